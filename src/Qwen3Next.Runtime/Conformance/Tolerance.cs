namespace Qwen3Next.Conformance;

/// <summary>Pass when every |actual − expected| ≤ Atol + Rtol·|expected| (numpy allclose).</summary>
public readonly record struct Tolerance(double Atol, double Rtol)
{
    public override string ToString() => Rtol > 0 ? $"atol {Atol:G2} rtol {Rtol:G2}" : $"atol {Atol:G2}";
}

/// <summary>
/// The tolerances of the golden README ("Observed reference-vs-reference differences", suggested for an
/// fp32 implementation). They hold for every backend that accumulates in fp32; they are never loosened.
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
}
