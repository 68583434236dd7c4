using NUnit.Framework;
using Qwen3Next.Cuda;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Ops.GatedDelta;

namespace Qwen3Next.Tests.Ptx;

/// <summary>Launch geometry of the tensor-core prefill kernels at the real shapes, their size limits (refused with an
/// ArgumentException naming the kernel), and fla's chunk tables.</summary>
public sealed class TensorCoreLaunchConfigTests
{
    private static void AssertRefused(TestDelegate launch, string kernel, string size)
        => Assert.That(launch, Throws.ArgumentException.With.Message.Contains(kernel).And.Message.Contains(size));

    [Test]
    public void GatedDeltaGeometryAtTheRealShape()
    {
        Assert.That(GatedDeltaTensorCoreKernels.PrepareConfig(512, 16, 32, 128, 128), Is.EqualTo(new LaunchConfig(new LaunchDims(512, 32), 128, 142_976)));
        Assert.That(GatedDeltaTensorCoreKernels.StatePassConfig(3, 16, 32, 128, 128), Is.EqualTo(new LaunchConfig(new LaunchDims(4, 32, 3), 64, 135_936)));
        Assert.That(GatedDeltaTensorCoreKernels.OutputConfig(512, 16, 32, 128, 128), Is.EqualTo(new LaunchConfig(new LaunchDims(512, 32), 128, 141_568)));
        AssertRefused(() => GatedDeltaTensorCoreKernels.PrepareConfig(1, 2, 4, 40, 64), GatedDeltaTensorCoreKernels.Prepare, "Dk = 40");
        AssertRefused(() => GatedDeltaTensorCoreKernels.StatePassConfig(1, 2, 4, 32, 96), GatedDeltaTensorCoreKernels.StatePass, "Dv = 96");
        AssertRefused(() => GatedDeltaTensorCoreKernels.OutputConfig(0, 2, 4, 32, 32), GatedDeltaTensorCoreKernels.Output, "NC = 0");
        AssertRefused(() => GatedDeltaTensorCoreKernels.PrepareConfig(1, 3, 4, 32, 32), GatedDeltaTensorCoreKernels.Prepare, "Hv = 4");
    }

    [Test]
    public void ChunkTablesNeverCrossASequence()
    {
        var (indices, offsets) = GatedDeltaTensorCoreKernels.ChunkTables([65, 0, 1, 128]);
        Assert.That(offsets, Is.EqualTo(new[] { 0, 2, 2, 3, 5 }));
        Assert.That(indices, Is.EqualTo(new[] { 0, 0, 0, 1, 2, 0, 3, 0, 3, 1 }));
    }

    [Test]
    public void AttentionGeometryAtTheRealShape()
    {
        Assert.That(FlashPrefillTensorCoreKernel.Config(32768, 1, 16, 2, 256), Is.EqualTo(new LaunchConfig(new LaunchDims(2048, 2, 1), 256, 202_752)));
        Assert.That(FlashPrefillTensorCoreKernel.Config(70, 3, 4, 2, 64).Grid, Is.EqualTo(new LaunchDims(2, 2, 3)));
        AssertRefused(() => FlashPrefillTensorCoreKernel.Config(8, 1, 16, 2, 96), FlashPrefillTensorCoreKernel.Name, "D = 96");
        AssertRefused(() => FlashPrefillTensorCoreKernel.Config(8, 1, 24, 1, 64), FlashPrefillTensorCoreKernel.Name, "G = 24");
        AssertRefused(() => FlashPrefillTensorCoreKernel.Config(0, 1, 16, 2, 256), FlashPrefillTensorCoreKernel.Name, "max_len = 0");
        Assert.That(PtxGatedAttentionOps.PagesBf16Config(32768, 2, 256, 1), Is.EqualTo(new LaunchConfig(new LaunchDims(512, 2, 1), 256)));
        Assert.That(PtxGatedAttentionOps.PagesBf16Config(65, 2, 64, 3).Grid, Is.EqualTo(new LaunchDims(2, 2, 3)));
        AssertRefused(() => PtxGatedAttentionOps.PagesBf16Config(8, 2, 66, 1), PtxGatedAttentionOps.PagesBf16, "D = 66");
    }
}
