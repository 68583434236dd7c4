using Qwen3Next.Backends;

namespace Qwen3Next.Conformance;

/// <summary>
/// How one output is judged. Elementwise (exact precision): pass when every |actual − expected| ≤ Atol + Rtol·|expected|
/// (numpy allclose). <see cref="MaxRelativeRms"/> set (fast precision): pass when ‖actual − expected‖₂ ÷ ‖expected‖₂ ≤
/// it — fla's criterion for bf16 kernels (<c>get_err_ratio</c> in its tests), with any non-finite value a failure.
/// </summary>
public readonly record struct Tolerance(double Atol, double Rtol, double? MaxRelativeRms = null)
{
    /// <summary>fla's relative-RMS criterion at <paramref name="ratio"/>.</summary>
    public static Tolerance RelativeRms(double ratio) => new(0, 0, ratio);

    public bool IsRelativeRms => MaxRelativeRms is not null;

    public override string ToString() => MaxRelativeRms is { } r ? $"rel RMS {r:G2}" : Rtol > 0 ? $"atol {Atol:G2} rtol {Rtol:G2}" : $"atol {Atol:G2}";
}

/// <summary>
/// The tolerances of the golden README ("Observed reference-vs-reference differences", suggested for an
/// fp32 implementation). They hold for every backend that accumulates in fp32; they are never loosened. A backend in
/// fast precision is judged by fla's criterion instead (<see cref="For"/>), never by widening these.
/// </summary>
public static class GoldenTolerances
{
    public static readonly Tolerance RuleOutput = new(2e-5, 1e-4);
    public static readonly Tolerance RuleState = new(1e-4, 1e-4);
    public static readonly Tolerance LayerOutput = new(5e-5, 0);
    public static readonly Tolerance LayerState = new(1e-4, 0);
    public static readonly Tolerance Moe = new(1e-5, 0);
    public static readonly Tolerance Attention = new(1e-5, 0);
    public static readonly Tolerance ModelLogits = new(5e-4, 0);

    /// <summary>The criterion for an output of <paramref name="backend"/>: <paramref name="exact"/> in exact precision,
    /// relative RMS ≤ <see cref="PrecisionModes.FastRelativeRms"/> in fast precision.</summary>
    public static Tolerance For(this Tolerance exact, IKernelBackend backend)
        => backend.Precision == Precision.Fast ? Tolerance.RelativeRms(PrecisionModes.FastRelativeRms) : exact;
}
