using Qwen3Next.Graph;
using Qwen3Next.Streaming;
using Spectre.Console;

namespace Qwen3Next.Cli;

/// <summary>The statistics of one <c>kernels run</c>, as printed and as written by <c>--stats</c>: totals over every token
/// through the model, and per decoded token in steady state (<see cref="DecodeStatistics"/>).</summary>
internal sealed record RunStatistics(
    int Tokens,
    int? ExpertSlots,
    long HostToDeviceBytes,
    double HostToDeviceBytesPerToken,
    long ExpertBytesCopied,
    long ExpertBytesReadMapped,
    long PrefetchedBytes,
    long ExpertHits,
    long ExpertMisses,
    double ExpertHitRate,
    long ExpertPrefetches,
    double? PredictionHitRate,
    long Evictions,
    double StallSeconds,
    double[] LayerSeconds,
    DecodeStatistics? Decode)
{
    public static RunStatistics From(GenerationResult result, IExpertStreaming? streaming, LayerTimer timer, DecodeStatistics? decode)
    {
        // Every token that went through the model: the prompt, and each generated token but the last.
        int tokens = result.PromptIds.Length + result.GeneratedIds.Length - 1;
        var s = streaming?.Statistics ?? new StreamingStatistics();
        return new RunStatistics(tokens, streaming?.Slots, s.HostToDeviceBytes, (double)s.HostToDeviceBytes / tokens, s.ExpertBytesCopied,
            s.ExpertBytesReadMapped, s.PrefetchedBytes, s.ExpertHits, s.ExpertMisses, s.HitRate, s.ExpertPrefetches,
            s.PredictionLookups > 0 ? s.PredictionHitRate : null, s.Evictions, s.StallSeconds, timer.Seconds, decode);
    }

    public static void Print(RunStatistics r)
    {
        var table = new Table().AddColumns("statistic", "value");
        void Row(string name, string value) => table.AddRow(new Text(name), new Text(value));
        Row("tokens through the model", r.Tokens.ToString());
        Row("expert slots", r.ExpertSlots?.ToString() ?? "all resident");
        Row("host-to-device bytes", $"{r.HostToDeviceBytes:N0} ({ByteSize.Format(r.HostToDeviceBytesPerToken)} per token; {r.ExpertBytesReadMapped:N0} read from mapped memory by kernels)");
        Row("expert hits / misses", $"{r.ExpertHits:N0} / {r.ExpertMisses:N0} (hit rate {r.ExpertHitRate:P1}, {r.Evictions:N0} evictions)");
        Row("prediction", r.PredictionHitRate is { } p ? $"hit rate {p:P1}, {r.ExpertPrefetches:N0} experts prefetched" : "none");
        Row("stalled on copies", $"{r.StallSeconds * 1e3:F1} ms");
        Row("time per layer (ms)", string.Join(" ", r.LayerSeconds.Select(s => (s * 1e3).ToString("F1"))));
        if (r.Decode is { } d)
        {
            static string Num(double? v, string format = "F1") => v is { } x ? x.ToString(format) : "n/a";
            Row($"per decoded token ({d.Tokens} steady-state steps)",
                $"{ByteSize.Format(d.HostToDeviceBytesPerToken)} host-to-device ({ByteSize.Format(d.ExpertBytesPerToken)} experts), "
                + $"expert hit rate {Num(d.ExpertHitRate * 100)}%, prediction hit rate {Num(d.PredictionHitRate * 100)}%, stall {Num(d.StallMillisecondsPerToken, "F3")} ms");
            Row("driver calls per decoded token",
                $"{Num(d.KernelLaunchesPerToken)} kernel launches, {Num(d.GraphLaunchesPerToken)} graph launches, {Num(d.MemsetsPerToken)} memsets, "
                + $"{Num(d.AllocationsPerToken)} allocations, {Num(d.FreesPerToken)} frees, {Num(d.HostSynchronizationsPerToken)} host synchronisations "
                + "(besides the layer timer's)");
        }

        Tables.Write(table);
    }
}
