using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Graph;

/// <summary>The whole model on one backend: embedding, decoder layers, final zero-centred norm, lm_head.</summary>
public sealed class Qwen3NextModel : IDisposable
{
    private readonly DeviceWeight embedding;
    private readonly DeviceWeight finalNorm;
    private readonly DeviceWeight lmHead;

    private Qwen3NextModel(IKernelBackend backend, ModelConfig config, DeviceWeight embedding, DecoderLayer[] layers, DeviceWeight finalNorm, DeviceWeight lmHead)
    {
        Backend = backend;
        Config = config;
        Shapes = ModelShapes.From(config);
        this.embedding = embedding;
        Layers = layers;
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
    }

    public IKernelBackend Backend { get; }

    public ModelConfig Config { get; }

    public ModelShapes Shapes { get; }

    public IReadOnlyList<DecoderLayer> Layers { get; }

    public static Qwen3NextModel Load(IKernelBackend backend, QwenCheckpoint checkpoint, IProgress<int>? layersLoaded = null)
    {
        var config = checkpoint.Config;
        var shapes = ModelShapes.From(config);
        var root = new TensorLookup(name => checkpoint[name]);
        var layers = new DecoderLayer[config.NumHiddenLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i] = DecoderLayer.Load(backend, shapes, config.LayerTypes[i], i, root.Under($"model.layers.{i}."));
            layersLoaded?.Report(i + 1);
        }

        return new Qwen3NextModel(backend, config, backend.LoadWeight(root["model.embed_tokens.weight"]), layers,
            backend.LoadWeight(root["model.norm.weight"]), backend.LoadWeight(root[config.TieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"]));
    }

    public InferenceSession CreateSession(int maxTokens)
    {
        var states = Layers.Select(l => new LayerState(l.Linear?.CreateState(Backend), l.Attention?.CreateCache(Backend, maxTokens))).ToArray();
        return new InferenceSession(states, maxTokens);
    }

    /// <summary>
    /// Feeds <paramref name="tokens"/> at the session's next positions and returns logits: <c>[T, vocab]</c>
    /// when <paramref name="allLogits"/>, else only the last token's <c>[vocab]</c>.
    /// </summary>
    public float[] Forward(InferenceSession session, ReadOnlySpan<int> tokens, bool allLogits = false, IForwardObserver? observer = null)
    {
        int t = tokens.Length, width = Config.HiddenSize, vocab = Config.VocabSize;
        if (t == 0)
        {
            throw new ArgumentException("At least one token is needed.", nameof(tokens));
        }

        foreach (int id in tokens)
        {
            if ((uint)id >= (uint)vocab)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), $"Token id {id} is outside the vocabulary [0, {vocab}).");
            }
        }

        if (session.Position + t > session.MaxTokens)
        {
            throw new InvalidOperationException($"The session holds {session.MaxTokens} tokens; {session.Position} are used and {t} more were given.");
        }

        using var hidden = Backend.Allocate((long)t * width);
        Backend.Basic.Embed(tokens, embedding, hidden);
        observer?.OnResidual(-1, hidden, t);
        for (int i = 0; i < Layers.Count; i++)
        {
            (Backend as ILayerStaging)?.BeforeLayer(i, (i + 1) % Layers.Count);
            var routing = observer is { WantsRouting: true } ? new MoeRouting(t, Shapes.Moe) : null;
            Layers[i].Forward(Backend, hidden, t, width, Shapes.Eps, session.Layers[i], routing);
            observer?.OnResidual(i, hidden, t);
            if (routing is not null)
            {
                observer!.OnRouting(i, routing);
            }
        }

        session.Position += t;
        int rows = allLogits ? t : 1;
        using var last = Backend.Allocate((long)rows * width);
        Backend.Copy(hidden, (long)(t - rows) * width, last, 0, (long)rows * width);
        Backend.Basic.RmsNorm(last, finalNorm, last, rows, width, Shapes.Eps, zeroCentred: true);
        using var logits = Backend.Allocate((long)rows * vocab);
        Backend.Basic.MatMul(last, lmHead, logits, rows);
        var result = new float[rows * vocab];
        Backend.Download(logits, result);
        return result;
    }

    public void Dispose()
    {
        embedding.Dispose();
        finalNorm.Dispose();
        lmHead.Dispose();
        foreach (var layer in Layers)
        {
            layer.Dispose();
        }
    }
}
