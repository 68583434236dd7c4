using Qwen3Next.PtxEmulator.Execution;

namespace Qwen3Next.PtxEmulator.Model;

/// <summary>
/// The H200 model's estimate for one launch (a model, not a measurement): occupancy, waves, the time each resource
/// needs, and the largest of them, <see cref="Binding"/>, which sets the modeled time.
/// </summary>
public sealed record LaunchEstimate(
    string Kernel,
    LaunchGeometry Geometry,
    KernelResources Resources,
    Occupancy Occupancy,
    double Waves,
    IReadOnlyList<ModelBound> Bounds,
    Roofline CountedWork,
    double RooflineSeconds,
    long CtasRun)
{
    /// <summary>The bound that sets the modeled time (the first listed on a tie).</summary>
    public ModelBound Binding => Bounds.MaxBy(b => b.Seconds)!;

    public double Seconds => Binding.Seconds;

    /// <summary>The roofline of the work this launch was counted doing (its unique bytes, FP32 and tensor FLOPs)
    /// over the modeled time: 1 means the launch runs at the hardware's limit for that work.</summary>
    public double FractionOfRoofline => Seconds > 0 ? RooflineSeconds / Seconds : 0;

    /// <summary>Only some CTAs ran and the counters were scaled up (see <see cref="CtaSampling"/>).</summary>
    public bool Sampled => CtasRun < Geometry.Grid.Count;

    public ModelBound Bound(BoundKind kind) => Bounds.First(b => b.Kind == kind);
}
