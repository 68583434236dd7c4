using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Graph;

/// <summary>The whole model on one backend: embedding, decoder layers, final zero-centred norm, lm_head.</summary>
public sealed partial class Qwen3NextModel : IDisposable
{
    private readonly DeviceWeight embedding;
    private readonly DeviceWeight finalNorm;
    private readonly DeviceWeight lmHead;
    private int disposed;
    private int openSessions;

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

    /// <summary>Loads every weight onto <paramref name="backend"/> (holding its lock, so other models on it wait);
    /// on failure whatever was loaded is freed again.</summary>
    public static Qwen3NextModel Load(IKernelBackend backend, QwenCheckpoint checkpoint, IProgress<int>? layersLoaded = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(checkpoint);
        var config = checkpoint.Config;
        var shapes = ModelShapes.From(config);
        var root = new TensorLookup(name => checkpoint[name]);
        var loaded = new List<IDisposable>();
        T Keep<T>(T item)
            where T : IDisposable
        {
            loaded.Add(item);
            return item;
        }

        lock (backend.Access.Gate)
        {
            try
            {
                var layers = new DecoderLayer[config.NumHiddenLayers];
                for (int i = 0; i < layers.Length; i++)
                {
                    layers[i] = Keep(DecoderLayer.Load(backend, shapes, config.LayerTypes[i], i, root.Under($"model.layers.{i}.")));
                    layersLoaded?.Report(i + 1);
                }

                return new Qwen3NextModel(backend, config, Keep(backend.LoadWeight(root["model.embed_tokens.weight"])), layers,
                    Keep(backend.LoadWeight(root["model.norm.weight"])),
                    Keep(backend.LoadWeight(root[config.TieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"])));
            }
            catch
            {
                loaded.ForEach(item => item.Dispose());
                throw;
            }
        }
    }

    /// <summary>
    /// Also check the residual stream for NaN/±Inf after the embedding and after every layer (one download of
    /// <c>[T, H]</c> per layer), so a <see cref="NonFiniteValueException"/> names the first layer at fault. Logits
    /// are always checked.
    /// </summary>
    public bool CheckActivations { get; set; }

    public bool IsDisposed => Volatile.Read(ref disposed) != 0;

    /// <summary>Sessions created and not yet disposed: what an engine that stops requests part-way can watch for leaks.</summary>
    public int OpenSessions => Volatile.Read(ref openSessions);

    internal void OnSessionDisposed() => Interlocked.Decrement(ref openSessions);

    /// <summary>
    /// A session whose KV caches hold <paramref name="maxTokens"/> tokens (at least 1). On a backend that reserves working
    /// sets (<see cref="IWorkingSetReservation"/>) the activations and workspaces of a decode step at the full context, and
    /// of a forward pass of <paramref name="prefillTokens"/> tokens (the prefill chunk; at most <paramref name="maxTokens"/>),
    /// are reserved here, so those passes allocate nothing; a working set beyond the backend's budget is refused with
    /// <see cref="WorkingSetBudgetException"/> naming the bytes.
    /// </summary>
    public InferenceSession CreateSession(int maxTokens, int prefillTokens = 1)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(prefillTokens, 1);
        lock (Backend.Access.Gate)
        {
            var states = new List<LayerState>(Layers.Count);
            try
            {
                foreach (var layer in Layers)
                {
                    states.Add(new LayerState(layer.Linear?.CreateState(Backend), layer.Attention?.CreateCache(Backend, maxTokens)));
                }

                if (Backend is IWorkingSetReservation reservation)
                {
                    ReserveWorkingSet(reservation, states.Select(s => s.AsBatchState()).ToArray(), maxTokens, Math.Min(prefillTokens, maxTokens));
                }
            }
            catch (Exception e)
            {
                states.ForEach(s => s.Dispose());
                if (e is OutOfMemoryException or ArgumentOutOfRangeException)
                {
                    var a = Shapes.Attention;
                    long cacheBytes = 2L * a.KeyValueHeads * a.HeadDim * Backend.KvCacheElement(a).Bytes() * maxTokens * Layers.Count(l => l.Attention is not null);
                    throw new ArgumentOutOfRangeException(
                        $"A session of {maxTokens} tokens needs {cacheBytes:N0} bytes of KV cache, more than the {Backend.Name} backend can allocate.", e);
                }

                throw;
            }

            Interlocked.Increment(ref openSessions);
            return new InferenceSession(this, states, maxTokens, Backend.Access.Gate);
        }
    }

    /// <summary>
    /// A batch of many sequences on this model (<see cref="BatchSession"/>): per linear layer a pool of
    /// <see cref="BatchOptions.MaxSequences"/> state slots, per attention layer key and value pools of
    /// <see cref="BatchOptions.TotalPages"/> pages. Too large for the backend: <see cref="ArgumentOutOfRangeException"/> with the bytes.
    /// On a backend that reserves working sets, a decode step of every sequence at its longest context is reserved here
    /// (a step of fewer sequences has other activation lengths and still allocates its own the first time).
    /// </summary>
    public BatchSession CreateBatch(BatchOptions options)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        lock (Backend.Access.Gate)
        {
            var layers = new LayerBatchState[Layers.Count];
            var created = new List<IDisposable>();
            try
            {
                for (int i = 0; i < layers.Length; i++)
                {
                    var linear = Layers[i].Linear?.CreateStatePool(Backend, options.MaxSequences);
                    if (linear is not null)
                    {
                        created.Add(linear);
                    }

                    var cache = Layers[i].Attention?.CreatePagedCache(Backend, options.TotalPages, options.PageSize);
                    if (cache is not null)
                    {
                        created.Add(cache);
                    }

                    layers[i] = new LayerBatchState(linear, cache);
                }

                var l = Shapes.Linear;
                var zeros = Backend.Allocate(Math.Max((long)l.ConvDim * l.ConvKernel, (long)l.ValueHeads * l.KeyDim * l.ValueDim));
                created.Add(zeros);
                if (Backend is IWorkingSetReservation reservation)
                {
                    ReserveWorkingSet(reservation, layers, options);
                }

                return new BatchSession(this, options, layers, zeros);
            }
            catch (Exception e)
            {
                created.ForEach(item => item.Dispose());
                if (e is OutOfMemoryException or ArgumentOutOfRangeException)
                {
                    throw new ArgumentOutOfRangeException(nameof(options), $"A batch of {options.MaxSequences} sequences and {options.TotalPages} KV pages of "
                        + $"{options.PageSize} tokens needs {BatchBytes(options):N0} bytes of state and KV cache, more than the {Backend.Name} backend can allocate.");
                }

                throw;
            }
        }
    }

    /// <summary>Device bytes of a batch's state pools (fp32) and KV pages (of the backend's <see cref="KvElement"/>).</summary>
    public long BatchBytes(BatchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (l, a) = (Shapes.Linear, Shapes.Attention);
        long slot = ((long)l.ConvDim * l.ConvKernel) + ((long)l.ValueHeads * l.KeyDim * l.ValueDim);
        long pageBytes = sizeof(float) * Backend.KvCacheElement(a).Words(2L * a.KeyValueHeads * options.PageSize * a.HeadDim);
        int linear = Layers.Count(x => x.Linear is not null), attention = Layers.Count(x => x.Attention is not null);
        return (sizeof(float) * linear * slot * options.MaxSequences) + (attention * pageBytes * options.TotalPages);
    }

    /// <summary>
    /// Feeds <paramref name="tokens"/> at the session's next positions and returns logits: <c>[T, vocab]</c>
    /// when <paramref name="allLogits"/>, else only the last token's <c>[vocab]</c>. Forward passes on one backend
    /// run one at a time (any thread may call; the others wait). Throws <see cref="NonFiniteValueException"/> when
    /// the logits (or, with <see cref="CheckActivations"/>, a layer's output) hold NaN or ±Inf.
    /// </summary>
    public float[] Forward(InferenceSession session, ReadOnlySpan<int> tokens, bool allLogits = false, IForwardObserver? observer = null)
        => Forward(session, tokens, allLogits, observer, sampler: null, sampled: default);

    /// <summary>A device sampler for <paramref name="sampling"/> when the backend samples on the device
    /// (<see cref="IDeviceSampling"/>) and supports those options; null means the host samples from the logits.</summary>
    public DeviceTokenSampler? CreateDeviceSampler(SamplingOptions sampling)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (Backend is not IDeviceSampling device)
        {
            return null;
        }

        lock (Backend.Access.Gate)
        {
            return device.CreateSampler(sampling, rows: 1);
        }
    }

    /// <summary>
    /// Feeds <paramref name="tokens"/> like <see cref="Forward(InferenceSession, ReadOnlySpan{int}, bool, IForwardObserver?)"/>
    /// and returns the next token chosen on the device by <paramref name="sampler"/> from the last token's logits, which
    /// never leave the device (the one transfer is the id). Throws <see cref="NonFiniteValueException"/> when the logits
    /// hold NaN or ±Inf.
    /// </summary>
    public int ForwardSampled(InferenceSession session, ReadOnlySpan<int> tokens, DeviceTokenSampler sampler, IForwardObserver? observer = null)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        Span<int> id = stackalloc int[1];
        Forward(session, tokens, allLogits: false, observer, sampler, id);
        return id[0];
    }

    private float[] Forward(InferenceSession session, ReadOnlySpan<int> tokens, bool allLogits, IForwardObserver? observer, DeviceTokenSampler? sampler,
        Span<int> sampled)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        ArgumentNullException.ThrowIfNull(session);
        ObjectDisposedException.ThrowIf(session.IsDisposed, session);
        if (session.Model != this)
        {
            throw new ArgumentException("The session was created by another model.", nameof(session));
        }

        int t = tokens.Length, vocab = Config.VocabSize;
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

        lock (Backend.Access.Gate)
        {
            if (session.Fault is { } fault)
            {
                throw new InvalidOperationException($"The session is unusable: {fault} Create a new session.");
            }

            if ((long)session.Position + t > session.MaxTokens)
            {
                throw new InvalidOperationException($"The session holds {session.MaxTokens} tokens; {session.Position} are used and {t} more were given.");
            }

            var pass = new ForwardPass(session, t);
            var batch = SequenceBatch.Single(session.Position, t);
            var states = session.Layers.Select(l => l.AsBatchState()).ToArray();
            var rows = allLogits ? Enumerable.Range(0, t).ToArray() : [t - 1];
            float[] result = sampler is not null && t == 1 && observer is null && !CheckActivations && Backend is IStepGraphs { CanCaptureSteps: true } graphs
                ? RunAsGraph(graphs, session, batch, tokens, states, rows, pass.Fail, sampler, sampled)
                : Run(batch, tokens, states, rows, observer, pass.Fail, sampler, sampled);
            var (first, count) = NonFiniteScan.Find(result);
            if (first >= 0)
            {
                throw pass.Fail(LogitsMessage(count, result.Length, result[first], first % vocab), null, result[first]);
            }

            if (sampler is not null && sampled[0] < 0)
            {
                throw pass.Fail(LogitsMessage(-sampled[0], vocab, float.NaN, index: null), null, float.NaN);
            }

            foreach (var layer in session.Layers)
            {
                if (layer.Cache is { } cache)
                {
                    cache.Length += t;
                }
            }

            session.Position += t;
            session.Steps++;
            return result;
        }
    }

    /// <summary>
    /// One forward pass over a packed batch: embedding, every layer (each sequence continuing from its state in
    /// <paramref name="states"/>), and the final norm and lm_head over the token rows <paramref name="logitRows"/> only.
    /// Returns their logits <c>[rows, vocab]</c>, not checked — or, with a <paramref name="sampler"/>, nothing: the token
    /// chosen from each row goes to <paramref name="sampled"/> (negative: that many non-finite logits). Runs under the backend's lock (the caller holds it);
    /// <paramref name="fail"/> makes the exception for non-finite activations (with <see cref="CheckActivations"/>).
    /// </summary>
    internal float[] Run(SequenceBatch batch, ReadOnlySpan<int> tokens, IReadOnlyList<LayerBatchState> states, ReadOnlySpan<int> logitRows,
        IForwardObserver? observer, Func<string, int?, float, NonFiniteValueException> fail, DeviceTokenSampler? sampler = null, Span<int> sampled = default,
        bool readBack = true)
    {
        int t = tokens.Length, width = Config.HiddenSize, vocab = Config.VocabSize;
        // Before any state changes: a streaming backend refuses a pass its expert cache cannot hold (MoE runs over all T).
        (Backend as IForwardCapacity)?.RequireForwardOf(t);
        using var hidden = Backend.Allocate((long)t * width);
        Backend.Basic.Embed(tokens, embedding, hidden);
        observer?.OnResidual(-1, hidden, t);
        CheckResidual(hidden, t, -1, width, batch, fail);
        for (int i = 0; i < Layers.Count; i++)
        {
            (Backend as ILayerStaging)?.BeforeLayer(i, (i + 1) % Layers.Count);
            var routing = observer is { WantsRouting: true } ? new MoeRouting(t, Shapes.Moe) : null;
            Layers[i].Forward(Backend, hidden, batch, width, Shapes.Eps, states[i], routing);
            observer?.OnResidual(i, hidden, t);
            if (routing is not null)
            {
                observer!.OnRouting(i, routing);
            }

            CheckResidual(hidden, t, i, width, batch, fail);
        }

        int rows = logitRows.Length;
        if (rows == 0)
        {
            return [];
        }

        using var last = Backend.Allocate((long)rows * width);
        for (int r = 0; r < rows;)
        {
            // Consecutive token rows go in one copy (all of a prefill's logits, or one row per sequence of a batch).
            int run = 1;
            while (r + run < rows && logitRows[r + run] == logitRows[r] + run)
            {
                run++;
            }

            Backend.Copy(hidden, (long)logitRows[r] * width, last, (long)r * width, (long)run * width);
            r += run;
        }

        Backend.Basic.RmsNorm(last, finalNorm, last, rows, width, Shapes.Eps, zeroCentred: true);
        using var logits = Backend.Allocate((long)rows * vocab);
        Backend.Basic.MatMul(last, lmHead, logits, rows);
        if (sampler is not null)
        {
            sampler.Launch(logits, rows, vocab);
            if (readBack)
            {
                sampler.ReadBack(rows, sampled);
            }

            return [];
        }

        var result = new float[rows * vocab];
        Backend.Download(logits, result);
        return result;
    }

    /// <summary>
    /// A one-token step with a device sampler as a replayed graph: the ids and the batch are staged, then the session's
    /// graph runs if its key (memory epoch, launch geometry, sampler) still holds. Otherwise the step runs eagerly once
    /// (so workspaces and the arena reach their steady state under the new key) and the next step is captured — every
    /// later step is one graph launch and the readback of the id.
    /// </summary>
    private float[] RunAsGraph(IStepGraphs graphs, InferenceSession session, SequenceBatch batch, ReadOnlySpan<int> tokens,
        IReadOnlyList<LayerBatchState> states, ReadOnlySpan<int> rows, Func<string, int?, float, NonFiniteValueException> fail, DeviceTokenSampler sampler,
        Span<int> sampled)
    {
        graphs.Stage(batch, tokens);
        var key = new StepGraphKey(graphs.MemoryEpoch, graphs.GeometryOf(batch), sampler);
        if (session.StepGraph is null || session.StepGraphKey != key)
        {
            session.StepGraph?.Dispose();
            session.StepGraph = null;
            if (session.WarmStepKey != key)
            {
                Run(batch, tokens, states, rows, null, fail, sampler, sampled);
                session.WarmStepKey = key with { Epoch = graphs.MemoryEpoch };
                return [];
            }

            graphs.BeginCapture();
            try
            {
                Run(batch, tokens, states, rows, null, fail, sampler, sampled, readBack: false);
            }
            catch
            {
                graphs.AbortCapture();
                throw;
            }

            (session.StepGraph, session.StepGraphKey) = (graphs.EndCapture(), key);
        }

        graphs.Replay(session.StepGraph);
        sampler.ReadBack(rows.Length, sampled);
        return [];
    }

    internal string LogitsMessage(int count, int total, float value, int? index)
    {
        string where = CheckActivations
            ? "every layer's output was finite, so the final norm or lm_head produced them"
            : "turn on activation checks (Qwen3NextModel.CheckActivations, kernels run --check-activations) to find the first layer";
        string first = index is { } i ? $" (first: {value} at vocab index {i})" : " (found by the device sampler)";
        return $"{count} of {total} logits are NaN or ±Inf{first}; {where}.";
    }

    private void CheckResidual(DeviceTensor hidden, int tokens, int layer, int width, SequenceBatch batch, Func<string, int?, float, NonFiniteValueException> fail)
    {
        if (!CheckActivations)
        {
            return;
        }

        var values = new float[(long)tokens * width];
        Backend.Download(hidden, values);
        var (first, count) = NonFiniteScan.Find(values);
        if (first >= 0)
        {
            int row = first / width, sequence = 0;
            while (batch.CuSeqlens[sequence + 1] <= row)
            {
                sequence++;
            }

            string after = layer < 0 ? "the embedding" : $"layer {layer} ({Layers[layer].Kind})";
            string where = batch.Count == 1 ? $"position {batch.Positions[row]}" : $"sequence {sequence} of the batch, position {batch.Positions[row]}";
            throw fail($"the residual stream first holds NaN or ±Inf after {after}: {count} of {values.Length} values "
                + $"(first: {values[first]} at {where}, feature {first % width}).", layer, values[first]);
        }
    }

    /// <summary>Where a forward pass is, for its error messages; a failure marks the session unusable.</summary>
    private sealed class ForwardPass(InferenceSession session, int tokens)
    {
        public int Tokens { get; } = tokens;

        public int FirstPosition { get; } = session.Position;

        public NonFiniteValueException Fail(string what, int? layer, float value)
        {
            string message = $"Non-finite values at step {session.Steps} (positions {FirstPosition}..{FirstPosition + Tokens - 1}): {what}";
            session.Fault = message;
            return new NonFiniteValueException(message, session.Steps, layer, value);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        lock (Backend.Access.Gate)
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
}
