using BenchmarkDotNet.Attributes;
using Qwen3Next.Backends;
using Qwen3Next.Benchmarks;

namespace Qwen3Next.Bench;

/// <summary>
/// Every op workload of the model (the same ones <c>kernels bench</c> runs) per backend. Real Qwen3-Next shapes
/// are only meaningful on a GPU; set QWEN3NEXT_BENCH_SCALE=Real to include them. Bytes and FLOPs per call are
/// printed at setup so a GPU run can state its fraction of the roofline. A backend name may carry a precision,
/// <c>ptx:exact</c> or <c>ptx:fast</c> (QWEN3NEXT_BENCH_BACKENDS=ptx:exact,ptx:fast times both modes).
/// </summary>
[MemoryDiagnoser(false)]
public class OpBenchmarks
{
    private IKernelBackend? backend;
    private OpWorkload? workload;

    public static IEnumerable<string> BackendNames => (Environment.GetEnvironmentVariable("QWEN3NEXT_BENCH_BACKENDS") ?? "reference,ilgpu").Split(',');

    public static IEnumerable<BenchmarkScale> Scales => Enum.TryParse<BenchmarkScale>(Environment.GetEnvironmentVariable("QWEN3NEXT_BENCH_SCALE"), out var s)
        ? [s] : [BenchmarkScale.Small];

    [ParamsSource(nameof(BackendNames))]
    public string Backend { get; set; } = "reference";

    [ParamsSource(nameof(Scales))]
    public BenchmarkScale Scale { get; set; }

    [ParamsSource(nameof(WorkloadNames))]
    public string Workload { get; set; } = OpWorkloads.Names[0];

    public static IEnumerable<string> WorkloadNames => OpWorkloads.Names;

    [GlobalSetup]
    public void Setup()
    {
        var parts = Backend.Split(':', 2);
        backend = BackendRegistry.Create(parts[0], parts.Length > 1 ? PrecisionModes.Parse(parts[1]) : null);
        workload = OpWorkloads.Create(Workload, backend, Scale);
        Console.WriteLine($"// {Workload} {workload.Shape}: {workload.Bytes:N0} bytes, {workload.Flops:N0} FLOPs per call ({workload.Intensity:F2} FLOP/byte)");
    }

    [Benchmark]
    public void Run()
    {
        workload!.Run();
        backend!.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        workload?.Dispose();
        backend?.Dispose();
    }
}
