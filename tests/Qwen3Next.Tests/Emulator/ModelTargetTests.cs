using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Benchmarks;
using Qwen3Next.Graph;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.Moe;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;
using Qwen3Next.PtxEmulator.Model;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// The tensor-core issue's modeled targets, at shapes small enough for the suite (the README's figures come from
/// <c>kernels profile --tokens 32768</c>): the fast prefill GEMM and the grouped expert GEMMs model at least half the
/// tensor peak with full 128-row tiles, and the ILGPU decode GEMV at least 70 % of HBM bandwidth. Each launch is the
/// H200 model applied to the emulator's counters of the shipped PTX (CTA-sampled), not a measurement.
/// </summary>
public sealed class ModelTargetTests
{
    private static List<LaunchResult> Run(IKernelBackend backend, Action work)
    {
        var launches = new List<LaunchResult>();
        var gpu = BackendRegistry.EmulatorOf(backend)!;
        gpu.Launched += launches.Add;
        try
        {
            work();
            backend.Synchronize();
        }
        finally
        {
            gpu.Launched -= launches.Add;
        }

        return launches;
    }

    private static EmulatorOptions Sampled(int ctas) => new() { Counters = true, Sanitize = false, Sampling = CtaSampling.AtMostPerLaunch(ctas), FaultOnFindings = false };

    private static PtxBackend FastOrIgnore(EmulatorOptions options)
    {
        var backend = PtxBackend.CreateEmulated(options, Precision.Fast);
        if (!backend.HasSm90aKernels)
        {
            backend.Dispose();
            Assert.Ignore("No sm_90a kernels embedded (CUDA 12.4 was not found at build time).");
        }

        return backend;
    }

    private static LaunchEstimate Estimate(IEnumerable<LaunchResult> launches, string kernel)
    {
        var launch = launches.Single(l => l.Kernel.Name == kernel);
        var estimate = new H200Model().Estimate(launch);
        TestContext.Out.WriteLine($"{kernel} {launch.Geometry.Grid}: {estimate.Seconds * 1e6:F1} µs, {estimate.Binding.Kind}-bound, {estimate.FractionOfRoofline:P0} of its roofline");
        return estimate;
    }

    [Test]
    public void FastPrefillGemmModelsAtLeastHalfTheTensorPeak()
    {
        using var backend = FastOrIgnore(Sampled(8));
        using var workload = OpWorkloads.Create("matmul-prefill", backend, BenchmarkScale.Real, prefillTokens: 1024);
        var estimate = Estimate(Run(backend, workload.Run), PtxBasicOps.MatMulWgmma);
        Assert.That(OfPeak(estimate, workload.Flops), Is.GreaterThanOrEqualTo(0.5));
        Assert.That(estimate.Binding.Kind, Is.Not.EqualTo(BoundKind.Latency), "the cp.async pipeline hides the load latency");
    }

    /// <summary>Fraction of the tensor peak of the op's nominal FLOPs (padding rows of partial tiles excluded).</summary>
    private static double OfPeak(LaunchEstimate estimate, double nominalFlops)
    {
        double fraction = nominalFlops / new H200Spec().TensorPeakFlops / estimate.Seconds;
        TestContext.Out.WriteLine($"  nominal {nominalFlops / 1e9:F1} GFLOP: {fraction:P0} of the tensor peak");
        return fraction;
    }

    [Test]
    public void FastGroupedExpertGemmsModelAtLeastHalfTheTensorPeak()
    {
        // 16 experts × top-8 over 2048 tokens: ~1024 rows per expert, so mostly full 128-row tiles as at 32K tokens with
        // 512 experts (~640 rows each).
        var shape = new MoeShape(2048, 16, 8, 512, 512, true);
        using var backend = FastOrIgnore(Sampled(2));
        using var workload = ExpertGemmWorkload.Create(backend, shape, 2048, seed: 1);
        var launches = Run(backend, workload.Run);
        double pairs = 2048.0 * shape.TopK;
        Assert.That(OfPeak(Estimate(launches, PtxMoeOps.GateUpWgmma), 2 * pairs * 2 * shape.ExpertIntermediate * shape.Hidden), Is.GreaterThanOrEqualTo(0.5));
        Assert.That(OfPeak(Estimate(launches, PtxMoeOps.DownWgmma), 2 * pairs * shape.ExpertIntermediate * shape.Hidden), Is.GreaterThanOrEqualTo(0.5));
    }

    [Test]
    public void IlgpuDecodeGemvModelsAtLeast70PercentOfHbm()
    {
        using var backend = BackendRegistry.Create("ilgpu-emu", Sampled(64));
        using var workload = OpWorkloads.Create("matmul-decode", backend, BenchmarkScale.Real);
        var estimate = Estimate(Run(backend, workload.Run), "Kernel_WarpPerFeaturePair");
        Assert.That(estimate.FractionOfRoofline, Is.GreaterThanOrEqualTo(0.7));
        Assert.That(estimate.Binding.Kind, Is.EqualTo(BoundKind.Dram));

        // The weight-stationary kernel it replaces on GPUs: one bf16 load in flight per iteration, latency-bound.
        var basic = (IlgpuBasicOps)backend.Basic;
        basic.MatMulChoice = MatMulKernel.WeightStationary;
        var old = Estimate(Run(backend, workload.Run), "Kernel_Gemv");
        Assert.That(old.Binding.Kind, Is.EqualTo(BoundKind.Latency));
        Assert.That(old.Seconds, Is.GreaterThan(4 * estimate.Seconds));
    }
}
