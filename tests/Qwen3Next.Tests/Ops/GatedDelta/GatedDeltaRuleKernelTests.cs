using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Ops.GatedDelta;
using static Qwen3Next.Tests.Ops.GatedDelta.GatedDeltaInputs;

namespace Qwen3Next.Tests.Ops.GatedDelta;

/// <summary>
/// The gated delta rule kernels (both modes) — ILGPU's on the CPU accelerator, and the CUDA C and ILGPU PTX on the
/// emulator with the sanitizer on — against <see cref="GatedDeltaRuleReference"/> (float64 dot products) on
/// generated inputs at awkward lengths around the 64-token chunk, head ratios 1 and 2, and Dv not a multiple of
/// the 32-column state tile.
/// Tolerances: inputs are O(1), q and k are unit rows, so |o| ≲ 2 and |S| ≲ 10. Every output is a float32 sum of
/// at most Dk + 2·64 products per chunk plus the WY solve chain, whose rounding noise is ~1e-7 relative per term and
/// observed at ~1e-6 absolute; o: atol 1e-5 + rtol 1e-5, state: atol 1e-4 + rtol 1e-5 (the golden README's
/// fp32 chunked-vs-recurrent spread is 2.2e-6 on o and 2.5e-5 on S at these magnitudes). A wrong chunk boundary,
/// decay or head mapping gives errors of order 1e-1.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.KernelBackends))]
public sealed class GatedDeltaRuleKernelTests(string backendName)
{
    /// <summary>Shared for the run (and disposed) by <see cref="TestBackends"/>.</summary>
    private IKernelBackend Backend => TestBackends.Get(backendName);

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var mode in new[] { GatedDeltaMode.Chunked, GatedDeltaMode.Recurrent })
        {
            foreach (int tokens in new[] { 1, 63, 64, 65, 130 })
            {
                yield return new TestCaseData(mode, tokens, 2, 4, 16, 40, true, true).SetName($"{mode}_T{tokens}_Hk2_Hv4_Dk16_Dv40_init");
            }

            yield return new TestCaseData(mode, 65, 3, 3, 24, 16, false, true).SetName($"{mode}_T65_ratio1_zeroState");
            yield return new TestCaseData(mode, 70, 1, 2, 32, 33, true, false).SetName($"{mode}_T70_ratio2_noL2");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesReference(GatedDeltaMode mode, int tokens, int keyHeads, int valueHeads, int keyDim, int valueDim, bool initialState, bool l2)
    {
        var shape = new GatedDeltaShape(tokens, keyHeads, valueHeads, keyDim, valueDim);
        var random = new Random((tokens * 131) + (keyDim * 7) + valueDim);
        var q = Uniform(random, (long)tokens * keyHeads * keyDim, -1, 1);
        var k = Uniform(random, (long)tokens * keyHeads * keyDim, -1, 1);
        if (!l2)
        {
            k = GatedDeltaRuleReference.Normalise(k, tokens * keyHeads, keyDim, true, 1f);
        }

        var v = Uniform(random, (long)tokens * valueHeads * valueDim, -1, 1);
        var g = Uniform(random, (long)tokens * valueHeads, -0.6f, 0f);
        var beta = Uniform(random, (long)tokens * valueHeads, 0f, 1f);
        var state = initialState ? Uniform(random, (long)valueHeads * keyDim * valueDim, -1, 1) : new float[valueHeads * keyDim * valueDim];
        float scale = 1f / MathF.Sqrt(keyDim);

        var expectedState = (float[])state.Clone();
        var expectedO = new float[tokens * valueHeads * valueDim];
        GatedDeltaRuleReference.Run(shape, q, k, v, g, beta, expectedState, expectedO, l2, scale, mode);

        using var qd = Backend.Upload(q);
        using var kd = Backend.Upload(k);
        using var vd = Backend.Upload(v);
        using var gd = Backend.Upload(g);
        using var bd = Backend.Upload(beta);
        using var sd = Backend.Upload(state);
        using var od = Backend.Allocate(expectedO.Length);
        Backend.GatedDelta.Rule(shape, qd, kd, vd, gd, bd, sd, od, l2, scale, mode);

        AssertClose("o", Download(Backend, od), expectedO, 1e-5, 1e-5);
        AssertClose("state", Download(Backend, sd), expectedState, 1e-4, 1e-5);
    }

    [Test]
    public void RejectsKeyDimBeyondSharedTile()
    {
        var shape = new GatedDeltaShape(2, 1, 1, GatedDeltaChunkKernels.MaxKeyDim + 1, 8);
        using var t = Backend.Allocate(1024);
        Assert.Throws<ArgumentException>(() => Backend.GatedDelta.Rule(shape, t, t, t, t, t, t, t, true, 1f, GatedDeltaMode.Chunked));
    }
}
