using Qwen3Next.PtxEmulator.Execution;
using Qwen3Next.PtxEmulator.Model;

namespace Qwen3Next.PtxEmulator.Profiling;

/// <summary>Launches of one kernel with one configuration inside an op, and the model's estimate of one of them
/// (identical launches have identical counters unless the data steers control flow; the first is kept).</summary>
public sealed record LaunchGroup(string Kernel, LaunchGeometry Geometry, int Count, LaunchEstimate Estimate)
{
    public double Seconds => Estimate.Seconds * Count;
}

/// <summary>
/// One op in a profile: how often it was called, its launches grouped by kernel and configuration, and its
/// nominal work (the workload's bytes and FLOPs) when the caller gave it. Times are per call.
/// </summary>
public sealed record OpProfile(string Op, int Calls, IReadOnlyList<LaunchGroup> Launches, Roofline? NominalWork)
{
    /// <summary>Modeled time of one call: every launch of the op back to back, no overlap between launches.</summary>
    public double SecondsPerCall => Launches.Sum(l => l.Seconds) / Math.Max(1, Calls);

    /// <summary>The bound of the launches that take most of the op's modeled time.</summary>
    public BoundKind Bound => Launches.GroupBy(l => l.Estimate.Binding.Kind).MaxBy(g => g.Sum(l => l.Seconds))?.Key ?? BoundKind.Launch;

    /// <summary>The work the roofline is drawn for: the nominal work when given, else what the launches were
    /// counted doing (unique bytes, FP32 and tensor FLOPs).</summary>
    public Roofline Work => NominalWork ?? Launches.Aggregate(new Roofline(0, 0, 0), (sum, l) => sum.Add(Scale(l.Estimate.CountedWork, (double)l.Count / Math.Max(1, Calls))));

    public double RooflineSeconds(H200Spec spec) => Work.Seconds(spec);

    public double FractionOfRoofline(H200Spec spec) => SecondsPerCall > 0 ? RooflineSeconds(spec) / SecondsPerCall : 0;

    public bool Sampled => Launches.Any(l => l.Estimate.Sampled);

    private static Roofline Scale(Roofline r, double f) => new(r.Bytes * f, r.CudaCoreFlops * f, r.TensorFlops * f);
}

/// <summary>
/// The H200 model applied to every launch of a profiled run, per op (a model, not a measurement). Format it with
/// <see cref="ProfileReportText"/> or <see cref="ProfileReportJson"/>.
/// </summary>
public sealed record ProfileReport(H200Spec Spec, IReadOnlyList<OpProfile> Ops, IReadOnlyList<string> Notes)
{
    public const string Label = "H200 time: analytical MODEL from emulator counters, not a measurement (docs/h200-model.md)";

    public string ToText() => ProfileReportText.Format(this);

    public string ToJson() => ProfileReportJson.Format(this);
}
