using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using NUnit.Framework;
using Qwen3Next.Cuda;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;
using Qwen3Next.PtxEmulator.Memory;
using Qwen3Next.PtxEmulator.Model;
using Qwen3Next.PtxEmulator.Profiling;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// The shipped nvcc PTX of the dense matmul at real Qwen3-Next shapes, run on the emulator and put through the
/// H200 model and the profile report: the decode GEMV (2048 → 8192, random bf16 weights) in full, the prefill
/// tensor-core GEMM with a CTA sample. The model's answers must be physically sane, not just present.
/// </summary>
public sealed class H200ModelEndToEndTests
{
    private const int In = 2048;
    private const int Out = 8192;

    private static PtxCatalog EmbeddedOrIgnore()
    {
        var catalog = PtxCatalog.Embedded;
        if (catalog.IsEmpty)
        {
            Assert.Ignore("No PTX is embedded: nvcc was not available when the runtime was built.");
        }

        return catalog;
    }

    private static MemoryRegion Upload<T>(EmulatedGpu gpu, T[] data, string name)
        where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(data.AsSpan());
        var region = gpu.Memory.Allocate(bytes.Length, name);
        gpu.Memory.Write(region.Start, bytes, name);
        return region;
    }

    /// <summary>Random bf16 values with magnitudes in [2^-7, 2^-6) and random signs (no NaN or infinity).</summary>
    private static ushort[] RandomBf16(int count, int seed)
    {
        var raw = new byte[count * 2];
        new Random(seed).NextBytes(raw);
        var w = MemoryMarshal.Cast<byte, ushort>(raw).ToArray();
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = (ushort)((w[i] & 0x807F) | 0x3C00);
        }

        return w;
    }

    private static float[] RandomFloats(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    private static LaunchResult RunMatmul(EmulatedGpu gpu, string kernelName, int tokens, LaunchGeometry geometry, ushort[] weights)
    {
        var catalog = EmbeddedOrIgnore();
        var info = catalog.ModuleOf(kernelName);
        var kernel = gpu.LoadModule(catalog.ReadText(info), info.Name).GetKernel(kernelName);
        var w = Upload(gpu, weights, "W");
        var x = Upload(gpu, RandomFloats(tokens * In, 2), "x");
        var y = gpu.Memory.Allocate((long)tokens * Out * 4, "y");
        var args = new KernelParameterPacker(kernel)
            .Set(0, (long)y.Start).Set(1, (long)x.Start).Set(2, (long)w.Start)
            .Set(3, tokens).Set(4, In).Set(5, Out).Set(6, 0);
        return gpu.Launch(kernel, geometry, args.Bytes);
    }

    [Test]
    public void DecodeGemvIsBandwidthOrLatencyBoundNearItsBytes()
    {
        using var gpu = new EmulatedGpu(new EmulatorOptions { Sanitize = false });
        using var recorder = new ProfileRecorder(gpu);
        double bytes = ((double)Out * In * 2) + (In * 4) + (Out * 4);
        var watch = Stopwatch.StartNew();
        using (recorder.BeginOp("matmul 2048→8192 (T=1)", Roofline.ForOp(bytes, 2.0 * In * Out, tensorCores: false)))
        {
            RunMatmul(gpu, "matmul_bf16_gemv", 1, new LaunchGeometry(Out / 8, 256), RandomBf16(Out * In, 1));
        }

        var report = recorder.Report();
        TestContext.Out.WriteLine($"emulated in {watch.Elapsed.TotalSeconds:F2} s");
        TestContext.Out.WriteLine(report.ToText());
        var op = report.Ops.Single();
        var e = op.Launches.Single().Estimate;
        TestContext.Out.WriteLine(e.Bound(BoundKind.Latency).ToString());
        Assert.That(e.Resources.IsFallback, Is.False, "registers come from docs/ptxas-report.md");
        Assert.That(e.Binding.Kind, Is.AnyOf(BoundKind.Dram, BoundKind.Latency, BoundKind.L2), e.Binding.ToString());
        Assert.That(e.Bound(BoundKind.Tensor).Seconds, Is.Zero);
        Assert.That(e.CountedWork.Bytes, Is.EqualTo(bytes).Within(0.01 * bytes), "unique bytes are W, x and y");
        double floor = bytes / 4.3e12;
        Assert.That(e.Seconds, Is.InRange(floor, 10 * floor));
        Assert.That(op.FractionOfRoofline(report.Spec), Is.InRange(0.05, 1.0));
    }

    [Test]
    public void PrefillMmaSampledModelsNoLessThanItsTensorTimeAndReportsAsJson()
    {
        const int tokens = 512;
        using var gpu = new EmulatedGpu(new EmulatorOptions { Sanitize = false, Sampling = CtaSampling.FirstNPerRow(1) });
        using var recorder = new ProfileRecorder(gpu);
        var grid = new LaunchGeometry(new Dim3(Out / 64, tokens / 64), 128);
        var watch = Stopwatch.StartNew();
        using (recorder.BeginOp("matmul 2048→8192 (T=512)", Roofline.ForOp((Out * In * 2.0) + (tokens * (In + Out) * 4.0), 2.0 * tokens * In * Out, tensorCores: true)))
        {
            var result = RunMatmul(gpu, "matmul_bf16_mma", tokens, grid, RandomBf16(Out * In, 3));
            Assert.That(result.Counters!.CtasRun, Is.EqualTo(tokens / 64));
        }

        var report = recorder.Report();
        TestContext.Out.WriteLine($"emulated in {watch.Elapsed.TotalSeconds:F2} s");
        TestContext.Out.WriteLine(report.ToText());
        var e = report.Ops.Single().Launches.Single().Estimate;
        TestContext.Out.WriteLine(e.Bound(BoundKind.Latency).ToString());
        Assert.That(e.Sampled, Is.True);
        Assert.That(e.Occupancy.CtasPerSm, Is.EqualTo(7), "68 registers × 128 threads");

        // Two mma per 16x8x16 block of the product (hi and lo halves of the activations).
        double mmas = 2.0 * tokens * Out * In / (16 * 8 * 16);
        Assert.That(e.CountedWork.TensorFlops, Is.EqualTo(mmas * H200Model.MmaM16N8K16Flops).Within(1e-6 * mmas));
        Assert.That(e.Binding.Kind, Is.Not.EqualTo(BoundKind.Dram).And.Not.EqualTo(BoundKind.Launch), e.Binding.ToString());

        // Unique bytes of the sample are scaled per allocation and capped by it: W, x and y once each.
        double unique = (Out * In * 2.0) + (tokens * In * 4.0) + (tokens * Out * 4.0);
        Assert.That(e.CountedWork.Bytes, Is.EqualTo(unique).Within(0.01 * unique));
        double tensorFloor = mmas * H200Model.MmaM16N8K16Flops / (H200Spec.Default.TensorPeakFlops * H200Spec.Default.MmaSyncFractionOfPeak);
        Assert.That(e.Seconds, Is.GreaterThanOrEqualTo(tensorFloor * 0.999));

        using var json = JsonDocument.Parse(report.ToJson());
        var launch = json.RootElement.GetProperty("ops")[0].GetProperty("launches")[0];
        Assert.That(launch.GetProperty("kernel").GetString(), Is.EqualTo("matmul_bf16_mma"));
        Assert.That(launch.GetProperty("ctasRun").GetInt64(), Is.EqualTo(tokens / 64));
        Assert.That(launch.GetProperty("boundsUs").GetProperty("tensor").GetDouble(), Is.EqualTo(e.Bound(BoundKind.Tensor).Seconds * 1e6).Within(1e-3));
        Assert.That(json.RootElement.GetProperty("model").GetString(), Does.Contain("MODEL"));
    }
}
