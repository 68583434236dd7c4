using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Conformance;
using Qwen3Next.Ops.GatedDelta;
using Qwen3Next.Tests.Checkpoint;
using static Qwen3Next.Tests.Ops.GatedDelta.GatedDeltaInputs;

namespace Qwen3Next.Tests.Ops.GatedDelta;

/// <summary>
/// The tensor-core chunked gated delta rule (<see cref="TensorCoreChunkedRule"/>, bf16 operands, fast precision
/// path) on the PTX emulator with the sanitizer on. Against <see cref="GatedDeltaRuleReference"/> (float64 dots) run
/// sequence by sequence: packed variable-length batches whose sequences start at arbitrary tokens, lengths around
/// the 64-token chunk, an empty sequence, state slots in a permuted pool with a slot no sequence uses (it must stay
/// bit-identical), head ratios 1 and 2, q/k/v read with the conv-output stride. Against the golden
/// <c>gated_delta_rule</c> files. Accuracy: fla's criterion (<see cref="FastPrecisionCriterion"/>) on o and on the
/// final states, as a whole and per sequence; a wrong chunk boundary, decay or head mapping gives errors of order 1e-1.
/// </summary>
[TestFixture]
public sealed class ChunkedRuleTensorCoreTests
{
    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (int tokens in new[] { 1, 63, 64, 65, 130 })
        {
            yield return new TestCaseData(2, 4, 32, 64, new[] { tokens }).SetName($"Hk2_Hv4_Dk32_Dv64_T{tokens}");
        }

        yield return new TestCaseData(3, 3, 64, 32, new[] { 65, 0, 1, 130, 64 }).SetName("Hk3_Hv3_Dk64_Dv32_varlen");
        yield return new TestCaseData(16, 32, 128, 128, new[] { 65 }).SetName("Hk16_Hv32_Dk128_Dv128_real_heads");
    }

    [TestCaseSource(nameof(Cases))]
    public void MeetsTheFastCriterionAgainstTheReference(int keyHeads, int valueHeads, int keyDim, int valueDim, int[] lengths)
    {
        var random = new Random((keyDim * 31) + lengths.Sum());
        int sequences = lengths.Length, tokens = lengths.Sum();
        float scale = 1f / MathF.Sqrt(keyDim);
        var q = Uniform(random, (long)tokens * keyHeads * keyDim, -1, 1);
        var k = Uniform(random, (long)tokens * keyHeads * keyDim, -1, 1);
        var v = Uniform(random, (long)tokens * valueHeads * valueDim, -1, 1);
        var g = Uniform(random, (long)tokens * valueHeads, -0.6f, 0f);
        var beta = Uniform(random, (long)tokens * valueHeads, 0f, 1f);
        int stateSize = valueHeads * keyDim * valueDim, slots = sequences + 1;
        var pool = Uniform(random, (long)slots * stateSize, -1, 1);
        var slotIds = Enumerable.Range(0, slots).OrderBy(_ => random.Next()).Take(sequences).ToArray();

        var expectedO = new float[tokens * valueHeads * valueDim];
        var expectedPool = (float[])pool.Clone();
        var cu = new int[sequences + 1];
        for (int b = 0; b < sequences; b++)
        {
            cu[b + 1] = cu[b] + lengths[b];
            if (lengths[b] == 0)
            {
                continue;
            }

            var shape = new GatedDeltaShape(lengths[b], keyHeads, valueHeads, keyDim, valueDim);
            int t0 = cu[b], qk = keyHeads * keyDim, vw = valueHeads * valueDim;
            GatedDeltaRuleReference.Run(shape, q.AsSpan(t0 * qk, lengths[b] * qk), k.AsSpan(t0 * qk, lengths[b] * qk), v.AsSpan(t0 * vw, lengths[b] * vw),
                g.AsSpan(t0 * valueHeads, lengths[b] * valueHeads), beta.AsSpan(t0 * valueHeads, lengths[b] * valueHeads),
                expectedPool.AsSpan(slotIds[b] * stateSize, stateSize), expectedO.AsSpan(t0 * vw), l2Normalize: true, scale, GatedDeltaMode.Chunked);
        }

        var finalPool = (float[])pool.Clone();
        var o = TensorCoreChunkedRule.Run(lengths, keyHeads, valueHeads, keyDim, valueDim, q, k, v, g, beta, finalPool, slotIds, l2: true, scale);

        int unused = Enumerable.Range(0, slots).Except(slotIds).Single();
        Assert.That(finalPool.AsSpan(unused * stateSize, stateSize).ToArray(), Is.EqualTo(pool.AsSpan(unused * stateSize, stateSize).ToArray()),
            "the slot no sequence uses is untouched");
        if (tokens > 0)
        {
            FastPrecisionCriterion.AssertMet("o", o, expectedO);
        }

        FastPrecisionCriterion.AssertMet("final states", finalPool, expectedPool);
        for (int b = 0; b < sequences; b++)
        {
            int span = lengths[b] * valueHeads * valueDim;
            if (span > 0)
            {
                double oRatio = FastPrecisionCriterion.RelativeRmsError(o.AsSpan(cu[b] * valueHeads * valueDim, span), expectedO.AsSpan(cu[b] * valueHeads * valueDim, span));
                Assert.That(oRatio, Is.LessThanOrEqualTo(FastPrecisionCriterion.MaxRelativeRmsError), $"o of sequence {b}: {oRatio:E3}");
            }

            double sRatio = FastPrecisionCriterion.RelativeRmsError(finalPool.AsSpan(slotIds[b] * stateSize, stateSize), expectedPool.AsSpan(slotIds[b] * stateSize, stateSize));
            Assert.That(sRatio, Is.LessThanOrEqualTo(FastPrecisionCriterion.MaxRelativeRmsError), $"final state of sequence {b}: {sRatio:E3}");
        }
    }

    private static IEnumerable<string> GoldenRuleFiles()
        => Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "data", "golden", "kernels"), "gdr_*.safetensors").Select(Path.GetFileName).Order()!;

    [TestCaseSource(nameof(GoldenRuleFiles))]
    public void MeetsTheFastCriterionOnTheGoldenCase(string file)
    {
        using var f = GoldenFile.Open(Path.Combine(GoldenData.Root, "kernels", file));
        int tokens = f.Dim("T"), hk = f.Dim("num_k_heads"), hv = f.Dim("num_v_heads"), dk = f.Dim("head_k_dim"), dv = f.Dim("head_v_dim");
        var state = f.Has("initial_state") ? f.F32("initial_state") : new float[hv * dk * dv];
        var o = TensorCoreChunkedRule.Run([tokens], hk, hv, dk, dv, f.F32("q"), f.F32("k"), f.F32("v"), f.F32("g"), f.F32("beta"), state, [0],
            f.Flag("use_qk_l2norm_in_kernel", true), (float)f.Number("scale"));
        FastPrecisionCriterion.AssertMet("o", o, f.F32("o"));
        FastPrecisionCriterion.AssertMet("final_state", state, f.F32("final_state"));
    }
}
