using NUnit.Framework;
using Qwen3Next.Backends;

namespace Qwen3Next.Tests.Ops;

/// <summary>
/// The accuracy rule of the bf16 fast path for kernels tested directly: fla's criterion, the relative RMS error of
/// each output tensor, ‖actual − expected‖₂ / ‖expected‖₂ ≤ <see cref="PrecisionModes.FastRelativeRms"/> (fla-org/
/// flash-linear-attention <c>tests/ops/test_gated_delta.py</c>, <c>assert_close(name, ref, tri, 0.005)</c>). The exact
/// fp32 path keeps the golden tolerances.
/// </summary>
internal static class FastPrecisionCriterion
{
    public const double MaxRelativeRmsError = PrecisionModes.FastRelativeRms;

    public static double RelativeRmsError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        if (actual.Length != expected.Length)
        {
            throw new ArgumentException($"{actual.Length} values against {expected.Length} expected");
        }

        double error = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            error += d * d;
            norm += (double)expected[i] * expected[i];
        }

        return norm == 0 ? (error == 0 ? 0 : double.PositiveInfinity) : Math.Sqrt(error / norm);
    }

    /// <summary>Asserts the criterion on <paramref name="name"/>; NaN anywhere fails it.</summary>
    public static double AssertMet(string name, ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        double ratio = RelativeRmsError(actual, expected);
        TestContext.Out.WriteLine($"{name}: relative RMS error {ratio:E3}");
        Assert.That(ratio, Is.LessThanOrEqualTo(MaxRelativeRmsError), $"{name}: relative RMS error {ratio:E3} (fla criterion {MaxRelativeRmsError:E1})");
        return ratio;
    }
}
