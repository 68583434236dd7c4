using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using Qwen3Next.Graph;
using Qwen3Next.Streaming;

namespace Qwen3Next.Cli;

/// <summary>Per-token figures of the steady-state decode: from the end of the first decode step to the last token.</summary>
internal sealed record DecodeStatistics(
    int Tokens,
    double HostToDeviceBytesPerToken,
    double ExpertBytesPerToken,
    double? ExpertHitRate,
    double? PredictionHitRate,
    double? StallMillisecondsPerToken,
    double? KernelLaunchesPerToken,
    double? GraphLaunchesPerToken,
    double? MemsetsPerToken,
    double? AllocationsPerToken,
    double? FreesPerToken,
    double? HostSynchronizationsPerToken);

/// <summary>
/// Measures the decode steps after the first (which may still grow workspaces): driver calls from the ptx backend's
/// counters, expert traffic, hit and prediction rates and stall time from the streaming statistics. The streaming
/// statistics are read just outside the window (a read waits for the device), and the layer timer's own
/// synchronisations are taken out, so the host synchronisations left are the model's.
/// </summary>
internal sealed class DecodeMeter(IKernelBackend backend, IExpertStreaming? streaming, LayerTimer? timer)
{
    private readonly CudaDriverCounters? counters = (backend as PtxBackend)?.DriverCounters;
    private int tokens;
    private int startToken;
    private CudaDriverCounters? countersAtStart;
    private CudaDriverCounters? countersAtLastToken;
    private StreamingStatistics? streamingAtStart;
    private long timerSyncsAtStart;

    /// <summary>After each token is chosen: the first is the prefill's, the second ends the first decode step.</summary>
    public void OnToken()
    {
        tokens++;
        if (tokens == 2)
        {
            streamingAtStart = streaming?.Statistics.Snapshot();
            countersAtStart = counters?.Snapshot();
            timerSyncsAtStart = timer?.Synchronizations ?? 0;
            startToken = tokens;
        }

        // The window ends at the last token, before the generation frees its session and sampler.
        countersAtLastToken = tokens > 2 ? counters?.Snapshot() : null;
    }

    /// <summary>The window's figures, or null when fewer than two decode steps ran.</summary>
    public DecodeStatistics? Finish()
    {
        if (tokens <= startToken || startToken == 0)
        {
            return null;
        }

        var driver = countersAtLastToken is not null && countersAtStart is not null ? countersAtLastToken.Since(countersAtStart) : null;
        long timerSyncs = (timer?.Synchronizations ?? 0) - timerSyncsAtStart;
        var s = streaming is not null && streamingAtStart is not null ? streaming.Statistics.Since(streamingAtStart) : null;
        int n = tokens - startToken;
        double? Per(long? value) => value is { } v ? (double)v / n : null;
        long driverBytes = driver?.CopiedBytes(CopyDirection.HostToDevice) ?? 0;
        long expertBytes = s?.ExpertBytesCopied ?? 0;
        return new DecodeStatistics(n, (double)(driverBytes + expertBytes + (s?.PrefetchedBytes ?? 0)) / n, (double)expertBytes / n,
            s is null ? null : s.HitRate, s is { PredictionLookups: > 0 } ? s.PredictionHitRate : null, s is null ? null : s.StallSeconds * 1e3 / n,
            Per(driver?.Launches), Per(driver?.GraphLaunches), Per(driver?.Memsets), Per(driver?.Allocations), Per(driver?.Frees),
            Per(driver is null ? null : driver.HostSynchronizations - timerSyncs));
    }
}
