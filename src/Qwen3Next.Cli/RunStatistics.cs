using Qwen3Next.Graph;
using Qwen3Next.Streaming;
using Spectre.Console;

namespace Qwen3Next.Cli;

/// <summary>The statistics of one <c>kernels run</c>, as printed and as written by <c>--stats</c>.</summary>
internal sealed record RunStatistics(
    int Tokens,
    int? ExpertSlots,
    long HostToDeviceBytes,
    double HostToDeviceBytesPerToken,
    long ExpertBytesCopied,
    long PrefetchedBytes,
    long ExpertHits,
    long ExpertMisses,
    double ExpertHitRate,
    long Evictions,
    double StallSeconds,
    double[] LayerSeconds)
{
    public static RunStatistics From(GenerationResult result, ExpertStreaming? streaming, LayerTimer timer)
    {
        // Every token that went through the model: the prompt, and each generated token but the last.
        int tokens = result.PromptIds.Length + result.GeneratedIds.Length - 1;
        var s = streaming?.Statistics ?? new StreamingStatistics();
        return new RunStatistics(tokens, streaming?.Slots, s.HostToDeviceBytes, (double)s.HostToDeviceBytes / tokens, s.ExpertBytesCopied,
            s.PrefetchedBytes, s.ExpertHits, s.ExpertMisses, s.HitRate, s.Evictions, s.StallSeconds, timer.Seconds);
    }

    public static void Print(RunStatistics r)
    {
        var table = new Table().AddColumns("statistic", "value");
        void Row(string name, string value) => table.AddRow(new Text(name), new Text(value));
        Row("tokens through the model", r.Tokens.ToString());
        Row("expert slots", r.ExpertSlots?.ToString() ?? "all resident");
        Row("host-to-device bytes", $"{r.HostToDeviceBytes:N0} ({ByteSize.Format(r.HostToDeviceBytesPerToken)} per token)");
        Row("expert hits / misses", $"{r.ExpertHits:N0} / {r.ExpertMisses:N0} (hit rate {r.ExpertHitRate:P1}, {r.Evictions:N0} evictions)");
        Row("stalled on copies", $"{r.StallSeconds * 1e3:F1} ms");
        Row("time per layer (ms)", string.Join(" ", r.LayerSeconds.Select(s => (s * 1e3).ToString("F1"))));
        Tables.Write(table);
    }
}
