using Qwen3Next.Backends;

namespace Qwen3Next.Graph;

/// <summary>
/// Per-sequence state of the whole model: every layer's conv/recurrent state or KV cache and the
/// number of tokens consumed. Any number of tokens can be fed at a time; each call continues from
/// the cached state (a multi-token continuation does not restart the linear layers, unlike HF).
/// A session belongs to the model that created it; sessions of one model may be used from different threads.
/// </summary>
public sealed class InferenceSession : IDisposable
{
    private readonly Lock gate;
    private int disposed;

    internal InferenceSession(Qwen3NextModel model, IReadOnlyList<LayerState> layers, int maxTokens, Lock gate)
    {
        Model = model;
        Layers = layers;
        MaxTokens = maxTokens;
        this.gate = gate;
    }

    internal Qwen3NextModel Model { get; }

    public IReadOnlyList<LayerState> Layers { get; }

    /// <summary>The KV-cache capacity this session was created with.</summary>
    public int MaxTokens { get; }

    /// <summary>Tokens consumed so far; the position of the next token.</summary>
    public int Position { get; internal set; }

    /// <summary>Forward passes run so far; the step number of the next one.</summary>
    public int Steps { get; internal set; }

    /// <summary>Why the session can no longer be used (a forward pass produced non-finite values), or null.</summary>
    public string? Fault { get; internal set; }

    public bool IsDisposed => Volatile.Read(ref disposed) != 0;

    /// <summary>The captured decode step replayed while <see cref="StepGraphKey"/> holds (<see cref="IStepGraphs"/>).</summary>
    internal CapturedStep? StepGraph { get; set; }

    internal StepGraphKey? StepGraphKey { get; set; }

    /// <summary>The key of the last eager step: a step under the same key is captured.</summary>
    internal StepGraphKey? WarmStepKey { get; set; }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        // Freeing device memory while another thread's forward pass runs on the backend is left to the backend's
        // own rule: take the same lock the model's forward passes take.
        lock (gate)
        {
            StepGraph?.Dispose();
            StepGraph = null;
            foreach (var layer in Layers)
            {
                layer.Dispose();
            }
        }

        Model.OnSessionDisposed();
    }
}

/// <summary>What a captured decode step depends on besides device memory contents.</summary>
internal readonly record struct StepGraphKey(long Epoch, int Geometry, DeviceTokenSampler Sampler);
