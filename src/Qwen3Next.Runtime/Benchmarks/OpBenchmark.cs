using System.Diagnostics;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using Qwen3Next.Device;

namespace Qwen3Next.Benchmarks;

/// <summary>A measured workload: median seconds per call and what that means against the ceilings.</summary>
public sealed record OpMeasurement(string Name, string Shape, long Bytes, long Flops, double MedianSeconds, double MinSeconds, int Iterations)
{
    public double GigabytesPerSecond => Bytes / MedianSeconds / 1e9;

    public double GigaflopsPerSecond => Flops / MedianSeconds / 1e9;

    /// <summary>Fraction of the roofline min(bandwidth · intensity, peak FLOP/s); without a peak FLOP/s, of the memory roofline.</summary>
    public double RooflineFraction(double bandwidthGBs, double? peakGflops)
    {
        double roofGflops = bandwidthGBs * Flops / Bytes;
        if (peakGflops is { } peak)
        {
            roofGflops = Math.Min(roofGflops, peak);
        }

        return roofGflops > 0 ? GigaflopsPerSecond / roofGflops : 0;
    }
}

/// <summary>Times workloads and the device copy ceiling on one backend: warm-up, then per-call times with a
/// synchronise after each call, reported as medians (the GPU check adds CUDA-event timings).</summary>
public static class OpBenchmark
{
    public static OpMeasurement Measure(IKernelBackend backend, OpWorkload workload, int iterations, int warmup = 2)
    {
        for (int i = 0; i < warmup; i++)
        {
            workload.Run();
        }

        backend.Synchronize();
        var times = new double[iterations];
        var clock = new Stopwatch();
        for (int i = 0; i < iterations; i++)
        {
            clock.Restart();
            workload.Run();
            backend.Synchronize();
            times[i] = clock.Elapsed.TotalSeconds;
        }

        Array.Sort(times);
        return new OpMeasurement(workload.Name, workload.Shape, workload.Bytes, workload.Flops, times[iterations / 2], times[0], iterations);
    }

    /// <summary>Device-to-device copy bandwidth (read + write bytes per second): the memory ceiling of this backend.</summary>
    public static OpMeasurement CopyCeiling(IKernelBackend backend, long floats, int iterations)
    {
        using var source = backend.Allocate(floats);
        using var destination = backend.Allocate(floats);
        var workload = new OpWorkload("device-copy", $"{floats * 4 / (1 << 20)} MiB", 8 * floats, 0,
            () => backend.Copy(source, 0, destination, 0, floats), []);
        return Measure(backend, workload, iterations);
    }

    /// <summary>The device a backend runs on, in words; null for the reference.</summary>
    public static string? DeviceDescription(IKernelBackend backend) => backend switch
    {
        IlgpuBackend ilgpu => ilgpu.Device.Description,
        PtxBackend ptx => ptx.Description,
        _ => null,
    };

    /// <summary>Host-to-device copy bandwidth on the backend's copy stream: the ceiling of weight streaming; null for the reference.</summary>
    public static OpMeasurement? HostToDeviceCeiling(IKernelBackend backend, long bytes, int iterations) => backend switch
    {
        IlgpuBackend ilgpu => HostToDeviceCeiling(ilgpu.Device, bytes, iterations),
        PtxBackend ptx => HostToDeviceCeiling(ptx, bytes, iterations),
        _ => null,
    };

    /// <summary>Page-locked host memory to device memory through the ptx backend's driver, on its copy stream.</summary>
    private static unsafe OpMeasurement HostToDeviceCeiling(PtxBackend backend, long bytes, int iterations)
    {
        const string subject = "the host-to-device benchmark";
        var driver = backend.Driver;
        var host = driver.AllocateHost(bytes, mapped: false, subject);
        try
        {
            using var target = backend.AllocateBuffer<byte>(bytes, subject);
            void CopyAndWait()
            {
                driver.CopyHostToDeviceAsync(target.Span.Address, (void*)host, bytes, backend.CopyStream, subject);
                driver.SynchronizeStream(backend.CopyStream, subject);
            }

            CopyAndWait();
            var times = new double[iterations];
            var clock = new Stopwatch();
            for (int i = 0; i < iterations; i++)
            {
                clock.Restart();
                CopyAndWait();
                times[i] = clock.Elapsed.TotalSeconds;
            }

            Array.Sort(times);
            return new OpMeasurement("host-to-device", $"{bytes >> 20} MiB pinned ({driver.Description})", bytes, 0, times[iterations / 2], times[0], iterations);
        }
        finally
        {
            driver.FreeHost(host, subject);
        }
    }

    /// <summary>Pinned host-to-device copy bandwidth on the copy stream: the ceiling of weight streaming.</summary>
    public static OpMeasurement HostToDeviceCeiling(ComputeDevice device, long bytes, int iterations)
    {
        using var host = PinnedHostBuffer<byte>.Allocate(device, bytes);
        using var target = device.Accelerator.Allocate1D<byte>(bytes);
        host.CopyToAsync(target.View, device.Copy);
        device.Copy.Synchronize();
        var times = new double[iterations];
        var clock = new Stopwatch();
        for (int i = 0; i < iterations; i++)
        {
            clock.Restart();
            host.CopyToAsync(target.View, device.Copy);
            device.Copy.Synchronize();
            times[i] = clock.Elapsed.TotalSeconds;
        }

        Array.Sort(times);
        string kind = host.IsPageLocked ? "pinned" : "pageable (CPU accelerator)";
        return new OpMeasurement("host-to-device", $"{bytes >> 20} MiB {kind}", bytes, 0, times[iterations / 2], times[0], iterations);
    }
}
