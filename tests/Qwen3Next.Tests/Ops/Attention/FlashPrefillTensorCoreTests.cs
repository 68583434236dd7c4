using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Tests.Ops.Attention;

/// <summary>
/// <c>attn_flash_prefill_tc</c> (bf16 tensor cores, fast precision path) on the PTX emulator with the sanitizer on,
/// against <see cref="GatedAttentionReference"/> (float64 scores and softmax, fp32 cache) run sequence by sequence:
/// packed variable-length batches with cached prefixes (continuation), an empty sequence, a decode-like
/// one-token sequence, shuffled pages of 16/32/64 rows with NaN in every row no sequence owns, lengths around the
/// 64-key tile and the 128/G-token block. Accuracy: fla's criterion (<see cref="FastPrecisionCriterion"/>) on y as a
/// whole and on each sequence's output of each head, which a wrong mask, page or head mapping breaks by orders of
/// magnitude (bf16 rounding of q, k, v and P alone gives about 2.5e-3).
/// </summary>
[TestFixture]
public sealed class FlashPrefillTensorCoreTests
{
    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (int tokens in new[] { 1, 63, 64, 65, 130 })
        {
            yield return new TestCaseData(4, 2, 64, 16, PackedBatch.Of((0, tokens))).SetName($"Hq4_Hkv2_D64_T{tokens}");
        }

        yield return new TestCaseData(4, 2, 64, 32, PackedBatch.Of((0, 65), (37, 30), (5, 0), (100, 1))).SetName("Hq4_Hkv2_D64_varlen_continuation_page32");
        yield return new TestCaseData(8, 1, 128, 64, PackedBatch.Of((20, 45), (0, 17))).SetName("Hq8_Hkv1_D128_G8_page64");
        yield return new TestCaseData(16, 2, 256, 16, PackedBatch.Of((3, 40))).SetName("Hq16_Hkv2_D256_real_heads");
    }

    [TestCaseSource(nameof(Cases))]
    public void MeetsTheFastCriterionAgainstTheReference(int hq, int hkv, int d, int pageSize, PackedBatch batch)
    {
        var shape = new GatedAttentionShape(0, hq, hkv, d, d / 4, 1e7f, 1e-6f);
        var random = new Random((hq * 1000) + (d * 7) + batch.Tokens);
        var rope = RopeTable.Build(shape.RotaryDim, shape.RopeTheta, RopeTable.MinRows);
        var qNorm = Uniform(random, d, 0.2f);
        var kNorm = Uniform(random, d, 0.2f);
        int tokens = batch.Tokens;
        var q = new float[Math.Max(1, tokens) * hq * d];
        var qgAll = new float[Math.Max(1, tokens) * shape.QueryGateWidth];
        var expected = new float[Math.Max(1, tokens) * shape.OutputWidth];
        var keys = new List<float[]>();
        var values = new List<float[]>();
        var lengths = new int[batch.Sequences];
        int row = 0;
        for (int b = 0; b < batch.Sequences; b++)
        {
            int cached = batch.Cached[b], fresh = batch.New[b], total = cached + fresh;
            lengths[b] = total;
            var qg = Uniform(random, (long)total * shape.QueryGateWidth, 1f);
            var k = Uniform(random, (long)total * shape.KeyValueWidth, 1f);
            var v = Uniform(random, (long)total * shape.KeyValueWidth, 1f);
            var keyCache = new float[Math.Max(1, hkv * total * d)];
            var valueCache = new float[keyCache.Length];
            var y = new float[Math.Max(1, total * shape.OutputWidth)];
            if (cached > 0)
            {
                GatedAttentionReference.Mixer(shape, cached, qg, k, v, qNorm, kNorm, keyCache, valueCache, total, 0, y);
            }

            if (fresh > 0)
            {
                int qgAt = cached * shape.QueryGateWidth, kvAt = cached * shape.KeyValueWidth;
                GatedAttentionReference.Mixer(shape, fresh, qg.AsSpan(qgAt), k.AsSpan(kvAt), v.AsSpan(kvAt), qNorm, kNorm, keyCache, valueCache,
                    total, cached, y.AsSpan(cached * shape.OutputWidth));
            }

            for (int t = 0; t < fresh; t++, row++)
            {
                int pos = cached + t;
                qg.AsSpan((pos * shape.QueryGateWidth), shape.QueryGateWidth).CopyTo(qgAll.AsSpan(row * shape.QueryGateWidth));
                y.AsSpan(pos * shape.OutputWidth, shape.OutputWidth).CopyTo(expected.AsSpan(row * shape.OutputWidth));
                for (int h = 0; h < hq; h++)
                {
                    var qh = q.AsSpan(((row * hq) + h) * d, d);
                    RmsNormReference.Run(qg.AsSpan(((pos * hq) + h) * 2 * d, d), qNorm, qh, 1, d, shape.Eps, zeroCentred: true);
                    RopeTable.Rotate(qh, shape.RotaryDim, pos, rope);
                }
            }

            keys.Add(keyCache);
            values.Add(valueCache);
        }

        var actual = RunKernel(batch, shape, pageSize, q, qgAll, keys, values, random);
        if (tokens == 0)
        {
            return;
        }

        FastPrecisionCriterion.AssertMet("y", actual.AsSpan(0, tokens * shape.OutputWidth), expected.AsSpan(0, tokens * shape.OutputWidth));
        var cu = batch.CuSeqlens;
        for (int b = 0; b < batch.Sequences; b++)
        {
            for (int h = 0; h < hq && batch.New[b] > 0; h++)
            {
                var (a, e) = (new List<float>(), new List<float>());
                for (int t = cu[b]; t < cu[b + 1]; t++)
                {
                    int at = (t * shape.OutputWidth) + (h * d);
                    a.AddRange(actual.AsSpan(at, d));
                    e.AddRange(expected.AsSpan(at, d));
                }

                double ratio = FastPrecisionCriterion.RelativeRmsError(a.ToArray(), e.ToArray());
                Assert.That(ratio, Is.LessThanOrEqualTo(FastPrecisionCriterion.MaxRelativeRmsError), $"y of sequence {b}, head {h}: relative RMS error {ratio:E3}");
            }
        }
    }

    /// <summary>The golden attention layers' prefill with the projections, q/k norms and RoPE computed by the C#
    /// reference in fp32 and the attention core by the kernel over a bf16 paged cache: the layer output must meet the
    /// fast criterion against the golden output.</summary>
    [TestCase("attn_small.safetensors", 16)]
    [TestCase("attn_real_heads.safetensors", 64)]
    public void GoldenPrefillMeetsTheFastCriterion(string file, int pageSize)
    {
        using var f = Qwen3Next.Conformance.GoldenFile.Open(Path.Combine(Qwen3Next.Tests.Checkpoint.GoldenData.Root, "kernels", file));
        var shape = new GatedAttentionShape(f.Dim("hidden_size"), f.Dim("num_attention_heads"), f.Dim("num_key_value_heads"), f.Dim("head_dim"),
            f.Dim("rotary_dim"), (float)f.Number("rope_theta"), (float)f.Number("rms_norm_eps"));
        int t = f.Dim("T_prefill"), d = shape.HeadDim, hq = shape.QueryHeads;
        var x = f.F32("hidden_states");
        var qg = Project(x, f.F32("q_proj.weight"), t, shape.Hidden);
        var k = Project(x, f.F32("k_proj.weight"), t, shape.Hidden);
        var v = Project(x, f.F32("v_proj.weight"), t, shape.Hidden);
        var (qNorm, kNorm) = (f.F32("q_norm.weight"), f.F32("k_norm.weight"));
        var keyCache = new float[shape.KeyValueHeads * t * d];
        var valueCache = new float[keyCache.Length];
        GatedAttentionReference.Mixer(shape, t, qg, k, v, qNorm, kNorm, keyCache, valueCache, t, 0, new float[t * shape.OutputWidth]);
        var q = new float[t * hq * d];
        var rope = RopeTable.Build(shape.RotaryDim, shape.RopeTheta, RopeTable.MinRows);
        for (int i = 0; i < t * hq; i++)
        {
            var qh = q.AsSpan(i * d, d);
            RmsNormReference.Run(qg.AsSpan(i * 2 * d, d), qNorm, qh, 1, d, shape.Eps, zeroCentred: true);
            RopeTable.Rotate(qh, shape.RotaryDim, i / hq, rope);
        }

        var y = RunKernel(PackedBatch.Of((0, t)), shape, pageSize, q, qg, [keyCache], [valueCache], new Random(1));
        FastPrecisionCriterion.AssertMet("output (prefill)", Project(y, f.F32("o_proj.weight"), t, shape.OutputWidth), f.F32("output"));
    }

    /// <summary>Launches the kernel on the emulator (sanitizer on) over a paged bf16 copy of each sequence's fp32 cache
    /// <c>[Hkv, cached + new, D]</c>; q fp32 <c>[T, Hq, D]</c> (normed, roped), qg <c>[T, Hq, 2D]</c>. Returns y.</summary>
    private static float[] RunKernel(PackedBatch batch, GatedAttentionShape shape, int pageSize, float[] q, float[] qg, List<float[]> keys,
        List<float[]> values, Random random)
    {
        var (hq, hkv, d) = (shape.QueryHeads, shape.KeyValueHeads, shape.HeadDim);
        int[] lengths = [.. Enumerable.Range(0, batch.Sequences).Select(b => batch.Cached[b] + batch.New[b])];
        var cache = PagedBf16Cache.Build(keys, values, lengths, hkv, d, pageSize, random);
        int outputs = Math.Max(1, batch.Tokens * shape.OutputWidth);
        using var gpu = new EmulatedPtxKernels();
        var yDevice = gpu.Upload<float>(Enumerable.Repeat(float.NaN, outputs).ToArray(), "y");
        var config = FlashPrefillTensorCoreKernel.Config(Math.Max(1, batch.MaxNew), batch.Sequences, hq, hkv, d);
        gpu.Launch(FlashPrefillTensorCoreKernel.Name, config, yDevice, gpu.Upload<float>(q, "q"), gpu.Upload<float>(qg, "qg"), gpu.Upload<ushort>(cache.Keys, "k_pages"),
            gpu.Upload<ushort>(cache.Values, "v_pages"), gpu.Upload<int>(batch.CuSeqlens, "cu_seqlens"), gpu.Upload<int>(lengths, "context_lens"),
            gpu.Upload<int>(cache.BlockTables, "block_tables"), hq, hkv, d, pageSize, cache.MaxPages, shape.Scale);
        return gpu.Download<float>(yDevice, outputs);
    }

    /// <summary>y = x Wᵀ in double, rounded once.</summary>
    private static float[] Project(float[] x, float[] weight, int rows, int inFeatures)
    {
        int outFeatures = weight.Length / inFeatures;
        var y = new float[rows * outFeatures];
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < outFeatures; o++)
            {
                double acc = 0;
                for (int i = 0; i < inFeatures; i++)
                {
                    acc += (double)x[(r * inFeatures) + i] * weight[(o * inFeatures) + i];
                }

                y[(r * outFeatures) + o] = (float)acc;
            }
        }

        return y;
    }

    private static float[] Uniform(Random random, long count, float scale)
    {
        var values = new float[count];
        for (long i = 0; i < count; i++)
        {
            values[i] = (float)(((random.NextDouble() * 2) - 1) * scale);
        }

        return values;
    }
}
