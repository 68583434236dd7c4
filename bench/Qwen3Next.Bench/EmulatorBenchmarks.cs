using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Qwen3Next.Cuda;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Execution;

namespace Qwen3Next.Bench;

/// <summary>
/// Speed of the PTX emulator in thread-instructions per second (the "thread-inst/s" column), sanitizer on and off,
/// on the shipped nvcc PTX of the dense matmul: the decode GEMV (global loads, shuffles; 2048 → 2048, T = 1) and the
/// tensor-core GEMM (shared memory, barriers, mma.sync; T = 64, 2048 → 256). Counters are on, as when profiling.
/// </summary>
[Config(typeof(EmulatorBenchmarkConfig))]
public class EmulatorBenchmarks
{
    private const int In = 2048;

    /// <summary>Thread instructions of one launch per benchmark case, counted at setup (in-process toolchain).</summary>
    internal static readonly ConcurrentDictionary<string, long> ThreadInstructions = new();

    private EmulatedGpu gpu = null!;
    private DecodedKernel kernel = null!;
    private LaunchGeometry geometry;
    private byte[] parameters = [];

    [Params("gemv", "mma")]
    public string Kernel { get; set; } = "gemv";

    [Params(false, true)]
    public bool Sanitize { get; set; }

    internal static string Key(string kernel, bool sanitize) => $"{kernel}/{sanitize}";

    [GlobalSetup]
    public void Setup()
    {
        var catalog = PtxCatalog.Embedded;
        catalog.EnsureAvailable();
        (string name, int tokens, int outputs) = Kernel == "gemv" ? ("matmul_bf16_gemv", 1, 2048) : ("matmul_bf16_mma", 64, 256);
        geometry = Kernel == "gemv" ? new LaunchGeometry(outputs / 8, 256) : new LaunchGeometry(new Dim3(outputs / 64, tokens / 64), 128);
        gpu = new EmulatedGpu(new EmulatorOptions { Sanitize = Sanitize });
        var module = catalog.ModuleOf(name);
        kernel = gpu.LoadModule(catalog.ReadText(module), module.Name).GetKernel(name);
        var random = new Random(1);
        var w = Enumerable.Range(0, outputs * In).Select(_ => (ushort)((random.Next() & 0x807F) | 0x3C00)).ToArray();
        var x = Enumerable.Range(0, tokens * In).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        ulong wAddress = Upload(MemoryMarshal.AsBytes(w.AsSpan()), "W"), xAddress = Upload(MemoryMarshal.AsBytes(x.AsSpan()), "x");
        var y = gpu.Memory.Allocate((long)tokens * outputs * 4, "y");
        parameters = new KernelParameterPacker(kernel).Set(0, (long)y.Start).Set(1, (long)xAddress).Set(2, (long)wAddress)
            .Set(3, tokens).Set(4, In).Set(5, outputs).Set(6, 0).Bytes.ToArray();
        ThreadInstructions[Key(Kernel, Sanitize)] = gpu.Launch(kernel, geometry, parameters).Counters!.ThreadInstructions;
    }

    [Benchmark]
    public void Launch() => gpu.Launch(kernel, geometry, parameters);

    [GlobalCleanup]
    public void Cleanup() => gpu.Dispose();

    private ulong Upload(ReadOnlySpan<byte> bytes, string name)
    {
        var region = gpu.Memory.Allocate(bytes.Length, name);
        gpu.Memory.Write(region.Start, bytes, name);
        return region.Start;
    }
}

/// <summary>Adds the thread-instructions-per-second column to the default columns.</summary>
public sealed class EmulatorBenchmarkConfig : ManualConfig
{
    public EmulatorBenchmarkConfig() => AddColumn(new ThreadInstructionsPerSecondColumn());
}

/// <summary>Thread instructions of one launch (counted at setup) over the mean time of a launch.</summary>
public sealed class ThreadInstructionsPerSecondColumn : IColumn
{
    public string Id => nameof(ThreadInstructionsPerSecondColumn);

    public string ColumnName => "thread-inst/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Thread instructions the emulator executes per second (active lanes × instructions / mean launch time)";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        string kernel = benchmarkCase.Parameters["Kernel"] as string ?? "";
        bool sanitize = benchmarkCase.Parameters["Sanitize"] is true;
        if (stats is null || !EmulatorBenchmarks.ThreadInstructions.TryGetValue(EmulatorBenchmarks.Key(kernel, sanitize), out long count))
        {
            return "n/a";
        }

        return (count / (stats.Mean * 1e-9) / 1e6).ToString("F1", CultureInfo.InvariantCulture) + " M";
    }
}
