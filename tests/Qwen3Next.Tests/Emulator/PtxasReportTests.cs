using NUnit.Framework;
using Qwen3Next.PtxEmulator.Model;

namespace Qwen3Next.Tests.Emulator;

/// <summary>Registers per kernel come from both ptxas report formats; a kernel in neither gets a labelled fallback.</summary>
public sealed class PtxasReportTests
{
    private const string NvccReport = """
        # ptxas report (sm_90)

        | file | kernel | registers | static smem (B) | stack (B) | spill stores (B) | spill loads (B) |
        |---|---|---|---|---|---|---|
        | basic/matmul_bf16.cu | matmul_bf16_mma | 68 | 15872 | 0 | 0 | 0 |
        | basic/argmax.cu | argmax_rows | 15 | 256 | 0 | 0 | 0 |
        """;

    private const string IlgpuReport = """
        | kernel | registers | shared memory (bytes) | stack (bytes) | spill stores / loads |
        |---|---:|---:|---:|---|
        | `BasicKernels.Gemv` | 22 | 33280 | 0 | 0 / 0 |
        """;

    [Test]
    public void ParsesBothReportFormats()
    {
        var report = PtxasReport.Parse(("nvcc.md", NvccReport), ("ilgpu.md", IlgpuReport));
        Assert.That(report.Kernels, Has.Count.EqualTo(3));
        Assert.That(report.TryGet("matmul_bf16_mma", out var mma), Is.True);
        Assert.That((mma.RegistersPerThread, mma.StaticSharedBytes, mma.Source), Is.EqualTo((68, 15872, "nvcc.md")));
        Assert.That(report.TryGet("BasicKernels.Gemv", out var gemv), Is.True);
        Assert.That((gemv.RegistersPerThread, gemv.StaticSharedBytes), Is.EqualTo((22, 33280)));
    }

    [Test]
    public void IlgpuKernelsAreFoundByTheirModuleName()
    {
        var report = PtxasReport.Parse(("ilgpu.md", IlgpuReport));
        var r = report.Resolve("Kernel_Gemv_1", "BasicKernels.Gemv.ptx", 100, 256, H200Spec.Default);
        Assert.That((r.Kernel, r.RegistersPerThread, r.StaticSharedBytes, r.IsFallback), Is.EqualTo(("Kernel_Gemv_1", 22, 33280, false)));
    }

    [Test]
    public void AMissingKernelGetsALabelledFallbackThatCanLaunch()
    {
        var report = PtxasReport.Parse(("nvcc.md", NvccReport));
        var small = report.Resolve("new_kernel", "m", 512, 256, H200Spec.Default);
        Assert.That((small.RegistersPerThread, small.StaticSharedBytes, small.IsFallback), Is.EqualTo((64, 512, true)));
        Assert.That(small.Source, Does.Contain("new_kernel is in no ptxas report"));
        var full = report.Resolve("new_kernel", "m", 0, 1024, H200Spec.Default);
        Assert.That(Occupancy.Compute(H200Spec.Default, 1024, full.RegistersPerThread, 0).CtasPerSm, Is.GreaterThanOrEqualTo(1));
    }

    [Test]
    public void ARegisterCellThatIsNotANumberIsAnError()
    {
        const string broken = """
            | kernel | registers |
            |---|---|
            | k | ? |
            """;
        Assert.That(() => PtxasReport.Parse(("broken.md", broken)), Throws.TypeOf<FormatException>().With.Message.Contains("broken.md"));
    }

    [Test]
    public void TheEmbeddedReportsListEveryShippedKernel()
    {
        var report = PtxasReport.Embedded;
        Assert.That(report.TryGet("matmul_bf16_gemv", out var gemv) && gemv.RegistersPerThread > 0, Is.True);
        Assert.That(report.TryGet("BasicKernels.Gemv", out var ilgpu) && ilgpu.RegistersPerThread > 0, Is.True);
        Assert.That(report.Kernels.Count, Is.GreaterThanOrEqualTo(40));
    }
}
