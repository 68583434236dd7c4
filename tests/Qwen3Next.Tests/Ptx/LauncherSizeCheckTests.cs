using NUnit.Framework;
using Qwen3Next.Cuda;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.GatedDelta;
using Qwen3Next.Ops.Moe;

namespace Qwen3Next.Tests.Ptx;

/// <summary>The launch configurations follow kernels/README.md (grid, block, dynamic shared memory at the model's
/// sizes), and every size limit it lists is refused with an ArgumentException naming the kernel and the size.</summary>
public sealed class LauncherSizeCheckTests
{
    private static void AssertRefused(TestDelegate launch, string kernel, string size)
        => Assert.That(launch, Throws.ArgumentException.With.Message.Contains(kernel).And.Message.Contains(size));

    [Test]
    public void MatMulUsesGemvUpToEightRowsAndMmaAbove()
    {
        var (gemv, gemvConfig) = PtxBasicOps.MatMulConfig(8, 2048, 4096);
        var (mma, mmaConfig) = PtxBasicOps.MatMulConfig(9, 2048, 4096);

        Assert.That((gemv, gemvConfig), Is.EqualTo((PtxBasicOps.MatMulGemv, new LaunchConfig(512, 256))));
        Assert.That((mma, mmaConfig), Is.EqualTo((PtxBasicOps.MatMulMma, new LaunchConfig(new LaunchDims(64, 1), 128))));
        Assert.That(PtxBasicOps.MatMulConfig(300, 2048, 65).Config.Grid, Is.EqualTo(new LaunchDims(2, 5)));
        AssertRefused(() => PtxBasicOps.MatMulConfig(0, 2048, 4096), PtxBasicOps.MatMulGemv, "T = 0");
    }

    [Test]
    public void ElementwiseGridIsCappedAt65535Blocks()
    {
        Assert.That(PtxBasicOps.ElementwiseConfig(PtxBasicOps.ResidualAdd, 300).Grid.X, Is.EqualTo(2));
        Assert.That(PtxBasicOps.ElementwiseConfig(PtxBasicOps.ResidualAdd, 1L << 32).Grid.X, Is.EqualTo(65535));
    }

    [Test]
    public void DynamicSharedMemoryMatchesTheReadme()
    {
        Assert.That(PtxGatedDeltaOps.ChunkPrepareConfig(5, 16, 32, 128, 128).DynamicSharedBytes, Is.EqualTo(83_456));
        Assert.That(PtxGatedDeltaOps.ChunkPrepareConfig(5, 16, 32, 128, 128).Grid, Is.EqualTo(new LaunchDims(5, 32)));
        Assert.That(PtxGatedDeltaOps.ChunkStatePassConfig(1, 16, 32, 128, 128).DynamicSharedBytes, Is.EqualTo(57_600));
        Assert.That(PtxGatedDeltaOps.ChunkStatePassConfig(3, 16, 32, 128, 128).Grid, Is.EqualTo(new LaunchDims(4, 32, 3)));
        Assert.That(PtxGatedAttentionOps.FlashPrefillConfig(63, 16, 2, 256).DynamicSharedBytes, Is.EqualTo(104_448));
        Assert.That(PtxGatedAttentionOps.FlashPrefillConfig(63, 16, 2, 256, sequences: 5).Grid, Is.EqualTo(new LaunchDims(8, 2, 5)));
        Assert.That(PtxGatedAttentionOps.FlashDecodeConfig(257, 16, 2, 256).DynamicSharedBytes, Is.EqualTo(75_488));
        Assert.That(PtxGatedAttentionOps.FlashDecodeConfig(257, 16, 2, 256, sequences: 64).Grid, Is.EqualTo(new LaunchDims(2, 2, 64)));
        Assert.That(PtxMoeOps.RouterTopKConfig(3, 512, 10, true).DynamicSharedBytes, Is.EqualTo(2048));
        Assert.That(PtxMoeOps.PermuteConfig(3, 512, 10), Is.EqualTo(new LaunchConfig(1, 1024, 4096)));
    }

    [Test]
    public void GatedDeltaLimitsAreRefused()
    {
        AssertRefused(() => PtxGatedDeltaOps.RecurrentConfig(1, 16, 32, 129, 128), PtxGatedDeltaOps.Recurrent, "Dk = 129");
        AssertRefused(() => PtxGatedDeltaOps.ChunkPrepareConfig(64, 16, 32, 129, 128), PtxGatedDeltaOps.ChunkPrepare, "Dk = 129");
        AssertRefused(() => PtxGatedDeltaOps.ChunkStatePassConfig(64, 16, 32, 256, 128), PtxGatedDeltaOps.ChunkStatePass, "Dk = 256");
        AssertRefused(() => PtxGatedDeltaOps.QkNormGatesConfig(1, 1, 129, 128, 128), PtxGatedDeltaOps.QkNormGates, "r = Hv/Hk = 129");
        AssertRefused(() => PtxGatedDeltaOps.QkNormGatesConfig(1, 3, 32, 128, 128), PtxGatedDeltaOps.QkNormGates, "Hv = 32");
        AssertRefused(() => PtxGatedDeltaOps.ConvConfig(PtxGatedDeltaOps.ConvStateUpdate, 8192, 5, 9), PtxGatedDeltaOps.ConvStateUpdate, "K = 9");
        AssertRefused(() => PtxGatedDeltaOps.ConvConfig(PtxGatedDeltaOps.ConvStep, 8192, 1, 4, sequences: 65536), PtxGatedDeltaOps.ConvStep, "B = 65536");
        AssertRefused(() => PtxGatedDeltaOps.RecurrentConfig(65536, 16, 32, 128, 128), PtxGatedDeltaOps.Recurrent, "B = 65536");
        Assert.That(PtxGatedDeltaOps.ConvConfig(PtxGatedDeltaOps.ConvPrefill, 8192, 70000, 4).Grid, Is.EqualTo(new LaunchDims(32, 65535)),
            "longer prompts stride over the tokens");
    }

    [Test]
    public void AttentionLimitsAreRefused()
    {
        AssertRefused(() => PtxGatedAttentionOps.QkNormRopeConfig(1, 16, 2, 513, 64), PtxGatedAttentionOps.QkNormRope, "D = 513");
        AssertRefused(() => PtxGatedAttentionOps.FlashPrefillConfig(64, 16, 2, 96), PtxGatedAttentionOps.FlashPrefill, "D = 96");
        AssertRefused(() => PtxGatedAttentionOps.FlashPrefillConfig(64, 3, 1, 128), PtxGatedAttentionOps.FlashPrefill, "G = Hq/Hkv = 3");
        AssertRefused(() => PtxGatedAttentionOps.FlashDecodeConfig(10, 32, 2, 512), PtxGatedAttentionOps.FlashDecode, "G·D = 8192");
        AssertRefused(() => PtxGatedAttentionOps.FlashDecodeConfig(10, 2, 1, 66), PtxGatedAttentionOps.FlashDecode, "D = 66");
        Assert.That(PtxGatedAttentionOps.ContextSplits(1), Is.EqualTo(1));
        Assert.That(PtxGatedAttentionOps.ContextSplits(256), Is.EqualTo(1));
        Assert.That(PtxGatedAttentionOps.ContextSplits(257), Is.EqualTo(2));

        // The 80B decode (Hkv = 2, one sequence) fills 132 SMs at any context; a long context needs more splits.
        foreach (int kv in new[] { 1, 100, 4096, 16384 })
        {
            Assert.That(PtxGatedAttentionOps.DecodeSplits(kv, kvHeads: 2, sequences: 1) * 2, Is.GreaterThanOrEqualTo(132), $"kv = {kv}");
        }

        Assert.That(PtxGatedAttentionOps.DecodeSplits(262144, 2, 1), Is.EqualTo(1024));
        Assert.That(PtxGatedAttentionOps.DecodeSplits(10, 2, 64), Is.EqualTo(2), "a batch of 64 fills the GPU with 2 splits");
    }

    [Test]
    public void MoeLimitsAreRefused()
    {
        AssertRefused(() => PtxMoeOps.RouterTopKConfig(1, 512, 33, true), PtxMoeOps.RouterTopK, "k = 33");
        AssertRefused(() => PtxMoeOps.RouterTopKConfig(1, 4, 5, true), PtxMoeOps.RouterTopK, "k = 5");
        AssertRefused(() => PtxMoeOps.RouterTopKConfig(1, 512, 10, false), PtxMoeOps.RouterTopK, "norm_topk_prob");
        AssertRefused(() => PtxMoeOps.GemvConfig(PtxMoeOps.GateUpGemv, 6554, 10, 2048, 512), PtxMoeOps.GateUpGemv, "P = T·k = 65540");
        AssertRefused(() => PtxMoeOps.GroupedConfig(PtxMoeOps.DownMma, 500_000, 512, 10, 2048, 512), PtxMoeOps.DownMma, "max_tiles");
        AssertRefused(() => PtxMoeOps.PermuteConfig(1, 30_000, 10), PtxMoeOps.Permute, "dynamic shared memory");
        Assert.That(PtxMoeOps.GroupedConfig(PtxMoeOps.GateUpMma, 300, 512, 10, 2048, 512).Grid, Is.EqualTo(new LaunchDims(16, 512 + 47)));
        Assert.That(PtxMoeOps.GemvConfig(PtxMoeOps.DownGemv, 1, 10, 2048, 512).Grid, Is.EqualTo(new LaunchDims(256, 10)));
    }

    [Test]
    public void EveryLaunchIsCheckedAgainstTheSm90Limits()
    {
        AssertRefused(() => new LaunchConfig(new LaunchDims(1, 65536), 128).Validate("k1"), "k1", "grid (1, 65536)");
        AssertRefused(() => new LaunchConfig(1, 2048).Validate("k2"), "k2", "2048 threads");
        AssertRefused(() => new LaunchConfig(1, 256, (227 * 1024) + 4).Validate("k3"), "k3", "232452 bytes");
        Assert.That(() => new LaunchConfig(new LaunchDims(int.MaxValue, 65535), 1024, 227 * 1024).Validate("ok"), Throws.Nothing);
    }
}
