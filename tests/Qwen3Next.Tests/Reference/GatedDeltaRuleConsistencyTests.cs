using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Conformance;
using Qwen3Next.Ops.GatedDelta;

namespace Qwen3Next.Tests.Reference;

/// <summary>The two forms of the gated delta rule against each other on generated inputs (awkward lengths,
/// head ratios 1–3), and chunked prefill continued from a state against one longer prefill.
/// Tolerances: the golden rule tolerances (chunked vs recurrent differ only in fp32 summation order).</summary>
public sealed class GatedDeltaRuleConsistencyTests
{
    public sealed record Inputs(GatedDeltaShape Shape, float[] Q, float[] K, float[] V, float[] G, float[] Beta, float[] State);

    public static Inputs Generate(GatedDeltaShape s, int seed)
    {
        var random = new Random(seed);
        float[] Fill(int n, Func<float> f) => Enumerable.Range(0, n).Select(_ => f()).ToArray();
        float Normal() => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        return new Inputs(s,
            Fill(s.Tokens * s.KeyHeads * s.KeyDim, Normal),
            Fill(s.Tokens * s.KeyHeads * s.KeyDim, Normal),
            Fill(s.Tokens * s.ValueHeads * s.ValueDim, Normal),
            Fill(s.Tokens * s.ValueHeads, () => (float)(-0.3 * random.NextDouble())),
            Fill(s.Tokens * s.ValueHeads, () => (float)random.NextDouble()),
            Fill(s.ValueHeads * s.KeyDim * s.ValueDim, () => 0.5f * Normal()));
    }

    public static (float[] O, float[] State) Run(Inputs x, GatedDeltaMode mode)
    {
        var state = (float[])x.State.Clone();
        var o = new float[x.Shape.Tokens * x.Shape.ValueHeads * x.Shape.ValueDim];
        GatedDeltaRuleReference.Run(x.Shape, x.Q, x.K, x.V, x.G, x.Beta, state, o, l2Normalize: true, 1f / MathF.Sqrt(x.Shape.KeyDim), mode);
        return (o, state);
    }

    [TestCase(1, 2, 2)]
    [TestCase(15, 2, 4)]
    [TestCase(63, 3, 3)]
    [TestCase(64, 2, 4)]
    [TestCase(65, 1, 3)]
    [TestCase(300, 2, 4)]
    public void ChunkedMatchesRecurrent(int tokens, int keyHeads, int valueHeads)
    {
        var x = Generate(new GatedDeltaShape(tokens, keyHeads, valueHeads, 16, 24), seed: tokens);
        var (oc, sc) = Run(x, GatedDeltaMode.Chunked);
        var (or, sr) = Run(x, GatedDeltaMode.Recurrent);
        AssertClose("o", oc, or, GoldenTolerances.RuleOutput);
        AssertClose("state", sc, sr, GoldenTolerances.RuleState);
    }

    [TestCase(64, 37)]
    [TestCase(10, 1)]
    [TestCase(100, 100)]
    public void ChunkedContinuationMatchesOnePrefill(int first, int second)
    {
        var all = Generate(new GatedDeltaShape(first + second, 2, 4, 16, 16), seed: 7);
        var (expectedO, expectedState) = Run(all, GatedDeltaMode.Chunked);
        var a = Slice(all, 0, first);
        var (oa, sa) = Run(a, GatedDeltaMode.Chunked);
        var (ob, sb) = Run(Slice(all, first, second) with { State = sa }, GatedDeltaMode.Chunked);
        AssertClose("o", [.. oa, .. ob], expectedO, GoldenTolerances.RuleOutput);
        AssertClose("state", sb, expectedState, GoldenTolerances.RuleState);
    }

    private static Inputs Slice(Inputs x, int start, int count)
    {
        var s = x.Shape;
        float[] Part(float[] a, int width) => a.AsSpan(start * width, count * width).ToArray();
        return new Inputs(s with { Tokens = count }, Part(x.Q, s.KeyHeads * s.KeyDim), Part(x.K, s.KeyHeads * s.KeyDim),
            Part(x.V, s.ValueHeads * s.ValueDim), Part(x.G, s.ValueHeads), Part(x.Beta, s.ValueHeads), x.State);
    }

    internal static void AssertClose(string what, float[] actual, float[] expected, Tolerance tol)
    {
        var r = CheckResult.Compare("generated", what, actual, expected, tol);
        Assert.That(r.Passed, Is.True, $"{what}: max abs {r.MaxAbsError:E2} > {tol}");
    }
}
