namespace Qwen3Next.Conformance;

/// <summary>One compared output of one golden case.</summary>
/// <param name="MaxRelError">max |a − e| divided by max |e| (error relative to the output's magnitude).</param>
public sealed record CheckResult(string Case, string Output, double MaxAbsError, double MaxRelError, string Tolerance, bool Passed, string? Detail = null)
{
    public static CheckResult Compare(string caseName, string output, ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, Tolerance tol)
    {
        if (actual.Length != expected.Length)
        {
            return new CheckResult(caseName, output, double.NaN, double.NaN, tol.ToString(), false,
                $"length {actual.Length} != expected {expected.Length}");
        }

        double maxAbs = 0, maxExpected = 0;
        bool passed = true;
        for (int i = 0; i < actual.Length; i++)
        {
            double diff = Math.Abs((double)actual[i] - expected[i]);
            if (double.IsNaN(diff))
            {
                diff = double.PositiveInfinity;
            }

            maxAbs = Math.Max(maxAbs, diff);
            maxExpected = Math.Max(maxExpected, Math.Abs(expected[i]));
            passed &= diff <= tol.Atol + (tol.Rtol * Math.Abs(expected[i]));
        }

        return new CheckResult(caseName, output, maxAbs, maxExpected > 0 ? maxAbs / maxExpected : maxAbs, tol.ToString(), passed);
    }

    /// <summary>Discrete outputs (greedy tokens) must match exactly.</summary>
    public static CheckResult Exact(string caseName, string output, ReadOnlySpan<long> actual, ReadOnlySpan<long> expected)
    {
        int mismatches = 0;
        for (int i = 0; i < Math.Max(actual.Length, expected.Length); i++)
        {
            if (i >= actual.Length || i >= expected.Length || actual[i] != expected[i])
            {
                mismatches++;
            }
        }

        return new CheckResult(caseName, output, mismatches, 0, "exact", mismatches == 0,
            mismatches == 0 ? null : $"got [{string.Join(',', actual.ToArray())}] expected [{string.Join(',', expected.ToArray())}]");
    }

    /// <summary>Expert selections: each row compared as a set (order within the top-k does not matter).</summary>
    public static CheckResult Sets(string caseName, string output, ReadOnlySpan<long> actual, ReadOnlySpan<long> expected, int rowLength)
    {
        int bad = 0;
        for (int r = 0; r < expected.Length / rowLength; r++)
        {
            var a = actual.Slice(r * rowLength, rowLength).ToArray().Order();
            var e = expected.Slice(r * rowLength, rowLength).ToArray().Order();
            if (!a.SequenceEqual(e))
            {
                bad++;
            }
        }

        return new CheckResult(caseName, output, bad, 0, "same set per row", bad == 0, bad == 0 ? null : $"{bad} rows differ");
    }
}
