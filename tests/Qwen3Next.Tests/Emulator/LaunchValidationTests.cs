using NUnit.Framework;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;

namespace Qwen3Next.Tests.Emulator;

/// <summary>A launch that cannot run as asked is a <see cref="PtxLaunchException"/> before any thread runs; parameter
/// packing refuses values of the wrong size.</summary>
[TestFixture]
public sealed class LaunchValidationTests
{
    private const string Ptx = PtxTestKernels.Header + """
        .visible .entry mark(.param .u64 out, .param .u32 value)
        .maxntid 256, 1, 1
        {
            .reg .b32 %v;
            .reg .b64 %rd0;
            ld.param.u64 %rd0, [out];
            ld.param.u32 %v, [value];
            st.global.u32 [%rd0], %v;
            ret;
        }
        """;

    [TestCase(1, 300, 0, "maxntid")]
    [TestCase(1, 1025, 0, "1024")]
    [TestCase(1, 0, 0, "block")]
    [TestCase(0, 32, 0, "grid")]
    [TestCase(1, 32, 300 * 1024, "shared memory")]
    [TestCase(1, 32, -1, "shared memory")]
    public void ImpossibleConfigurationsFailBeforeAnyThreadRuns(int grid, int block, int dynamicShared, string message)
    {
        using var gpu = new EmulatedGpu();
        var output = PtxTestKernels.Upload<uint>(gpu, [5u], "out");
        var error = Assert.Throws<PtxLaunchException>(() => PtxTestKernels.Launch(gpu, Ptx, new LaunchGeometry(grid, block, dynamicShared), output, 9));
        Assert.That(error!.Message, Does.Contain("mark").And.Contain(message));
        Assert.That(PtxTestKernels.Download<uint>(gpu, output, 1)[0], Is.EqualTo(5u), "nothing ran");
    }

    [Test]
    public void GridYAndZAreLimited()
    {
        using var gpu = new EmulatedGpu();
        var output = PtxTestKernels.Upload<uint>(gpu, [5u], "out");
        Assert.Throws<PtxLaunchException>(() => PtxTestKernels.Launch(gpu, Ptx, new LaunchGeometry(new Dim3(1, 65536), 32), output, 9));
        Assert.Throws<PtxLaunchException>(() => PtxTestKernels.Launch(gpu, Ptx, new LaunchGeometry(new Dim3(1, 1, 65536), 32), output, 9));
    }

    [Test]
    public void ParameterBytesMustMatchTheEntry()
    {
        using var gpu = new EmulatedGpu();
        var kernel = gpu.LoadModule(Ptx, "mark.ptx").GetKernel("mark");
        Assert.That(kernel.Parameters.Select(p => (p.Name, p.Offset, p.Size)), Is.EqualTo(new[] { ("out", 0, 8), ("value", 8, 4) }));
        var error = Assert.Throws<PtxLaunchException>(() => gpu.Launch(kernel, new LaunchGeometry(1, 1), new byte[8]));
        Assert.That(error!.Message, Does.Contain("8 parameter bytes").And.Contain("12"));
    }

    [Test]
    public void PackingAValueOfTheWrongSizeIsRefused()
    {
        using var gpu = new EmulatedGpu();
        var kernel = gpu.LoadModule(Ptx, "mark.ptx").GetKernel("mark");
        var packer = new KernelParameterPacker(kernel);
        Assert.That(Assert.Throws<PtxLaunchException>(() => packer.Set(0, 7))!.Message, Does.Contain("out").And.Contain("8 bytes"));
        Assert.That(Assert.Throws<PtxLaunchException>(() => packer.Set(1, 7L))!.Message, Does.Contain("value"));
        Assert.That(Assert.Throws<PtxLaunchException>(() => packer.Set(2, 7))!.Message, Does.Contain("does not exist"));
        Assert.That(Assert.Throws<PtxLaunchException>(() => packer.SetBytes(1, new byte[3]))!.Message, Does.Contain("3 were given"));
    }

    [Test]
    public void AnUnknownKernelNameListsTheModulesKernels()
    {
        using var gpu = new EmulatedGpu();
        var module = gpu.LoadModule(Ptx, "mark.ptx");
        var error = Assert.Throws<PtxEmulatorException>(() => module.GetKernel("missing"));
        Assert.That(error!.Message, Does.Contain("missing").And.Contain("mark"));
    }
}
