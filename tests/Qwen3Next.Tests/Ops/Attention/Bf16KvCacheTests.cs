using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Checkpoint;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Tests.Ops.Attention;

/// <summary>
/// The fast precision's bf16 KV cache on the emulator (sanitizer on): attn_qk_norm_rope_bf16 writes every key and value
/// as the host's round-to-nearest-even of what the fp32 writer stores (bit for bit), the tensor-core prefill reads the
/// pools without the attn_pages_bf16 copy, and attn_flash_decode_bf16 (fp32 math over widened rows) meets fla's criterion
/// against both the fp32 decode kernel and the float64 reference. The backend hands out bf16 caches only in fast precision.
/// </summary>
[TestFixture]
public sealed class Bf16KvCacheTests
{
    private static readonly GatedAttentionShape Shape = new(Hidden: 8, QueryHeads: 4, KeyValueHeads: 2, HeadDim: 64, RotaryDim: 16, RopeTheta: 1e7f, Eps: 1e-6f);

    private static PtxBackend Fast => (PtxBackend)TestBackends.Get(TestBackends.PtxEmuFast);

    [Test]
    public void PrefillWritesTheCacheAsTheHostRoundsTheFp32Rows()
    {
        int[] lengths = [37, 1, 20], cached = [5, 18, 3];
        var (y, expected, keys, _, launched) = FastPrefillLauncherTests.RunAttention(Fast, Shape, lengths, cached, 16, KvElement.BFloat16, out var values);
        var (_, _, keys32, _, _) = FastPrefillLauncherTests.RunAttention(Fast, Shape, lengths, cached, 16, KvElement.Float32, out var values32);
        Assert.That(launched, Does.Contain(PtxGatedAttentionOps.QkNormRopeBf16).And.Contain(FlashPrefillTensorCoreKernel.Name)
            .And.Not.Contain(PtxGatedAttentionOps.PagesBf16).And.Not.Contain(PtxGatedAttentionOps.QkNormRope));
        AssertRoundedFrom("keys", keys, keys32);
        AssertRoundedFrom("values", values, values32);
        FastPrecisionCriterion.AssertMet("y", y, expected);
    }

    [Test]
    public void DecodeOverTheBf16CacheMeetsFlasCriterionAgainstTheFp32Decode()
    {
        // One token per sequence after prefixes of 1, 300 (two 256-row splits) and 17 tokens; page size 32.
        int[] lengths = [1, 1, 1], cached = [1, 300, 17];
        var (y, expected, _, _, launched) = FastPrefillLauncherTests.RunAttention(Fast, Shape, lengths, cached, 32, KvElement.BFloat16);
        var (y32, _, _, _, launched32) = FastPrefillLauncherTests.RunAttention(Fast, Shape, lengths, cached, 32, KvElement.Float32);
        Assert.That(launched, Does.Contain(PtxGatedAttentionOps.FlashDecodeBf16).And.Not.Contain(PtxGatedAttentionOps.FlashDecode));
        Assert.That(launched32, Does.Contain(PtxGatedAttentionOps.FlashDecode).And.Not.Contain(PtxGatedAttentionOps.FlashDecodeBf16));
        FastPrecisionCriterion.AssertMet("bf16 decode against the fp32 decode", y, y32);
        FastPrecisionCriterion.AssertMet("bf16 decode against the reference", y, expected);
        Assert.That(FastPrecisionCriterion.RelativeRmsError(y, y32), Is.GreaterThan(0), "the bf16 cache was read (not the fp32 one)");
    }

    [Test]
    public void TheBackendChoosesBf16OnlyInFastPrecision()
    {
        Assert.That(Fast.KvCacheElement(Shape), Is.EqualTo(KvElement.BFloat16));
        Assert.That(((IKernelBackend)TestBackends.Get("ptx-emu")).KvCacheElement(Shape), Is.EqualTo(KvElement.Float32));
        Assert.That(((IKernelBackend)TestBackends.Get("reference")).KvCacheElement(Shape), Is.EqualTo(KvElement.Float32));
        var unsupported = Shape with { HeadDim = 96 };
        Assert.That(Fast.KvCacheElement(unsupported), Is.EqualTo(KvElement.Float32), "D = 96 has no tensor-core prefill");
    }

    [Test]
    public void ABackendWithoutBf16KernelsRefusesABf16Cache()
    {
        var reference = TestBackends.Get("reference");
        long pool = 2L * 16 * Shape.HeadDim;
        using var cache = new PagedKvCache(reference.Allocate(KvElement.BFloat16.Words(pool)), reference.Allocate(KvElement.BFloat16.Words(pool)), 1, 16,
            ownsTensors: true, KvElement.BFloat16);
        using var qg = reference.Allocate(Shape.QueryGateWidth);
        using var k = reference.Allocate(Shape.KeyValueWidth);
        using var v = reference.Allocate(Shape.KeyValueWidth);
        using var y = reference.Allocate(Shape.OutputWidth);
        using var norm = reference.LoadWeight(TensorView.FromFloat32("norm", [Shape.HeadDim], new float[Shape.HeadDim]));
        var batch = new SequenceBatch([0, 1], [0], default, [1], [0], 1);
        Assert.Throws<NotSupportedException>(() => reference.Attention.Mixer(Shape, batch, qg, k, v, norm, norm, cache, y));
    }

    private static void AssertRoundedFrom(string what, float[] bf16, float[] fp32)
    {
        int written = 0;
        for (int i = 0; i < fp32.Length; i++)
        {
            float rounded = Bf16.ToFloat(Bf16.FromFloat(fp32[i]));
            if (BitConverter.SingleToInt32Bits(bf16[i]) != BitConverter.SingleToInt32Bits(rounded))
            {
                Assert.Fail($"{what}[{i}]: the bf16 cache holds {bf16[i]:R}, round-to-nearest-even of the fp32 row's {fp32[i]:R} is {rounded:R}");
            }

            written += fp32[i] != 0 ? 1 : 0;
        }

        Assert.That(written, Is.GreaterThan(fp32.Length / 4), $"{what}: the steps wrote the cache");
    }
}
