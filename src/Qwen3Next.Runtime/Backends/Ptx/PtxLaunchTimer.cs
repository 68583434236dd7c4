using Qwen3Next.Cuda;

namespace Qwen3Next.Backends.Ptx;

/// <summary>One launch timed on the device: the kernel, its configuration and the time between the CUDA events
/// recorded just before and just after it on the compute stream.</summary>
public sealed record TimedLaunch(string Kernel, LaunchConfig Config, double Milliseconds);

/// <summary>
/// Brackets every launch with two timing events on the backend's compute stream, so each kernel's device time can be
/// read afterwards (the GPU check's per-kernel times, which calibrate the H200 model). Events are pooled; reading
/// the times synchronises the stream once.
/// </summary>
internal sealed class PtxLaunchTimer(ICudaDriver driver, StreamHandle stream) : IDisposable
{
    private readonly List<EventHandle> pool = [];
    private readonly List<(string Kernel, LaunchConfig Config, EventHandle Start, EventHandle End)> pending = [];
    private int used;

    public void Time(string kernel, LaunchConfig config, Action launch)
    {
        var start = Next();
        var end = Next();
        driver.RecordEvent(start, stream, "a launch timer");
        launch();
        driver.RecordEvent(end, stream, "a launch timer");
        pending.Add((kernel, config, start, end));
    }

    /// <summary>Waits for the stream and returns the launches timed since the last call, in launch order.</summary>
    public IReadOnlyList<TimedLaunch> Collect()
    {
        driver.SynchronizeStream(stream, "a launch timer");
        var result = pending.Select(p => new TimedLaunch(p.Kernel, p.Config, driver.ElapsedMilliseconds(p.Start, p.End, $"kernel '{p.Kernel}'"))).ToList();
        pending.Clear();
        used = 0;
        return result;
    }

    private EventHandle Next()
    {
        if (used == pool.Count)
        {
            pool.Add(driver.CreateEvent(timing: true, "a launch timer"));
        }

        return pool[used++];
    }

    public void Dispose()
    {
        foreach (var e in pool)
        {
            driver.DestroyEvent(e, "a launch timer");
        }

        pool.Clear();
    }
}
