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

        double maxAbs = 0, maxExpected = 0, sumDiff2 = 0, sumExpected2 = 0;
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
            sumDiff2 += diff * diff;
            sumExpected2 += (double)expected[i] * expected[i];
            passed &= diff <= tol.Atol + (tol.Rtol * Math.Abs(expected[i]));
        }

        string? detail = null;
        if (tol.MaxRelativeRms is { } bound)
        {
            // fla's get_err_ratio: RMS of the error over RMS of the reference; an all-zero reference needs an exact match.
            double ratio = sumExpected2 > 0 ? Math.Sqrt(sumDiff2 / sumExpected2) : sumDiff2 == 0 ? 0 : double.PositiveInfinity;
            passed = ratio <= bound;
            detail = $"rel RMS {ratio:E2}";
        }

        return new CheckResult(caseName, output, maxAbs, maxExpected > 0 ? maxAbs / maxExpected : maxAbs, tol.ToString(), passed, detail);
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

    /// <summary>
    /// Rows of logits <c>[steps, vocab]</c> from two paths: at every step the argmax of each must be among the
    /// <paramref name="k"/> largest of the other (ties in the top k count as inside).
    /// </summary>
    public static CheckResult MutualTopK(string caseName, string output, ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, int vocab, int k)
    {
        if (actual.Length != expected.Length || vocab <= 0 || actual.Length % vocab != 0)
        {
            return new CheckResult(caseName, output, double.NaN, double.NaN, $"top {k}", false, $"length {actual.Length} vs {expected.Length} (vocab {vocab})");
        }

        var misses = new List<string>();
        for (int step = 0; step < actual.Length / vocab; step++)
        {
            var a = actual.Slice(step * vocab, vocab);
            var e = expected.Slice(step * vocab, vocab);
            int ta = Ops.Basic.ArgmaxReference.Row(a), te = Ops.Basic.ArgmaxReference.Row(e);
            if (!InTopK(e, ta, k) || !InTopK(a, te, k))
            {
                misses.Add($"step {step}: ours {ta}, golden {te}");
            }
        }

        return new CheckResult(caseName, output, misses.Count, 0, $"top {k} both ways", misses.Count == 0, misses.Count == 0 ? null : string.Join("; ", misses));
    }

    /// <summary>Fewer than <paramref name="k"/> values of the row beat the value at <paramref name="index"/> (NaN never beats).</summary>
    private static bool InTopK(ReadOnlySpan<float> row, int index, int k)
    {
        float v = row[index];
        int above = 0;
        foreach (float x in row)
        {
            if (x > v || (float.IsNaN(v) && !float.IsNaN(x)))
            {
                above++;
            }
        }

        return above < k;
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
