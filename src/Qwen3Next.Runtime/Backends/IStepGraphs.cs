namespace Qwen3Next.Backends;

/// <summary>
/// A backend that can capture a decode step's stream work as a graph and replay it (CUDA graphs). The step's inputs
/// that change from step to step — the token ids and the batch description (positions, context lengths, slots,
/// block tables) — are uploaded by <see cref="Stage"/> before the capture or replay, and the kernels read them from
/// device memory, so one graph serves every later step while its key holds.
/// </summary>
public interface IStepGraphs
{
    /// <summary>Whether a step may be captured now (off while a stream of experts or a launch timer needs the host
    /// between kernels).</summary>
    bool CanCaptureSteps { get; }

    /// <summary>Changes whenever memory a captured graph may use is freed or moves (a grown workspace, an arena free);
    /// a graph captured under another value must be captured again.</summary>
    long MemoryEpoch { get; }

    /// <summary>The launch geometry the step's kernels take for <paramref name="batch"/> (e.g. the flash-decode split
    /// count); a graph captured for another value must be captured again.</summary>
    int GeometryOf(SequenceBatch batch);

    /// <summary>Uploads the ids and the batch description where the step's kernels read them; the ops of the step
    /// then upload nothing for the same ids and batch.</summary>
    void Stage(SequenceBatch batch, ReadOnlySpan<int> tokens);

    void BeginCapture();

    /// <summary>Ends the capture; the step's work is in the returned graph, not yet run.</summary>
    CapturedStep EndCapture();

    /// <summary>Ends a capture that failed part-way, dropping what it recorded.</summary>
    void AbortCapture();

    /// <summary>Runs <paramref name="step"/> on the compute stream (one graph launch).</summary>
    void Replay(CapturedStep step);
}

/// <summary>A captured, instantiated step; disposing frees the graph.</summary>
public abstract class CapturedStep : IDisposable
{
    public abstract void Dispose();
}
