using System.Globalization;
using System.Text;
using Qwen3Next.PtxEmulator.Model;

namespace Qwen3Next.PtxEmulator.Profiling;

/// <summary>
/// A plain-text table of a <see cref="ProfileReport"/>: one row per op (time per call, bound, fraction of its
/// roofline) and under it one row per kernel configuration, followed by that launch's largest bounds.
/// </summary>
public static class ProfileReportText
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Format(ProfileReport report)
    {
        var spec = report.Spec;
        var sb = new StringBuilder();
        sb.AppendLine(ProfileReport.Label);
        sb.AppendLine(Invariant, $"H200: {spec.Sms} SMs at {spec.ClockHz / 1e9:F2} GHz, HBM {spec.HbmAchievableBytesPerSecond / 1e12:F1} TB/s achievable ({spec.HbmPeakBytesPerSecond / 1e12:F1} peak), wgmma at the {spec.TensorPeakFlops / 1e12:F0} TFLOPs tensor peak, mma.sync at {spec.MmaSyncFractionOfPeak:P0} of it");
        sb.AppendLine();
        sb.AppendLine(Invariant, $"{"op / kernel",-34} {"grid",-16} {"block",-14} {"×",4} {"modeled µs",11} {"bound",-10} {"roofline",8}  occupancy");
        foreach (var op in report.Ops)
        {
            string sampled = op.Sampled ? "  (sampled CTAs)" : "";
            sb.AppendLine(Invariant,
                $"{Clip(op.Op, 34),-34} {"",-16} {"",-14} {op.Calls,4} {op.SecondsPerCall * 1e6,11:F2} {Name(op.Bound),-10} {op.FractionOfRoofline(spec),8:P0}{sampled}");
            foreach (var l in op.Launches)
            {
                var e = l.Estimate;
                string occupancy = $"{e.Occupancy.CtasPerSm} CTA/SM ({e.Occupancy.Limiter}), {e.Waves:F2} waves";
                sb.AppendLine(Invariant,
                    $"  {Clip(l.Kernel, 32),-32} {Dim(l.Geometry.Grid),-16} {Dim(l.Geometry.Block),-14} {l.Count,4} {e.Seconds * 1e6,11:F2} {Name(e.Binding.Kind),-10} {e.FractionOfRoofline,8:P0}  {occupancy}");
                var top = e.Bounds.Where(b => b.Seconds > 0).OrderByDescending(b => b.Seconds).Take(5)
                    .Select(b => string.Create(Invariant, $"{Name(b.Kind)} {b.Seconds * 1e6:F2}"));
                sb.AppendLine(Invariant, $"      bounds µs: {string.Join(" · ", top)}{(e.Resources.IsFallback ? $"  [{e.Resources.Source}]" : "")}");
            }
        }

        foreach (var note in report.Notes)
        {
            sb.AppendLine(Invariant, $"note: {note}");
        }

        return sb.ToString();
    }

    /// <summary>Bound names as the report and its JSON spell them.</summary>
    public static string Name(BoundKind kind) => kind switch
    {
        BoundKind.Dram => "dram",
        BoundKind.L2 => "l2",
        BoundKind.Shared => "shared",
        BoundKind.Issue => "issue",
        BoundKind.Fp32 => "fp32",
        BoundKind.Fp64 => "fp64",
        BoundKind.Int => "int",
        BoundKind.Sfu => "sfu",
        BoundKind.Conversion => "cvt",
        BoundKind.Shuffle => "shuffle",
        BoundKind.Lsu => "lsu",
        BoundKind.Tensor => "tensor",
        BoundKind.Latency => "latency",
        _ => "launch",
    };

    private static string Dim(Execution.Dim3 d) => d.Z > 1 ? $"{d.X}x{d.Y}x{d.Z}" : d.Y > 1 ? $"{d.X}x{d.Y}" : $"{d.X}";

    private static string Clip(string s, int width) => s.Length <= width ? s : s[..(width - 1)] + "…";
}
