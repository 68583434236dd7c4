using System.CommandLine;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Benchmarks;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Model;
using Qwen3Next.PtxEmulator.Profiling;

namespace Qwen3Next.Cli.Commands;

/// <summary>
/// <c>kernels profile</c>: every op workload once on an emulated backend with counters on, and the H200 model's
/// time per kernel and per op, its bound and its fraction of the roofline. A model, labelled as such: the emulator's
/// own wall-clock time says nothing about a GPU. With <c>--backend ptx</c> on a GPU it measures each launch with
/// CUDA events instead (the GPU check's calibration data), and <c>--measured FILE</c> puts those times beside the
/// model's.
/// </summary>
internal static class ProfileCommand
{
    public static readonly string[] EmulatedBackends = ["ptx-emu", "ilgpu-emu"];

    /// <summary>Kernels whose CTAs cooperate (the last CTA routes): never sampled.</summary>
    private static readonly string[] WholeKernels = [Qwen3Next.Ops.Moe.PtxMoeOps.DecodeRoute];

    /// <summary>Workloads whose kernels use the tensor cores on the ptx path (their roofline's compute roof).</summary>
    private static readonly string[] TensorCoreOps = ["matmul-prefill", "moe-prefill"];

    public static Command Create()
    {
        var backend = new Option<string>("--backend", "-b")
        {
            Description = $"Emulated backend: {string.Join(", ", EmulatedBackends)}.",
            DefaultValueFactory = _ => "ptx-emu",
        };
        var ops = new Option<string[]>("--ops") { Description = $"Workloads (default: all): {string.Join(", ", OpWorkloads.Names)}.", AllowMultipleArgumentsPerToken = true };
        var scale = new Option<BenchmarkScale>("--scale") { Description = "small or real (Qwen3-Next-80B-A3B shapes).", DefaultValueFactory = _ => BenchmarkScale.Real };
        var sample = new Option<int>("--sample-ctas")
        {
            Description = "Run about this many CTAs per launch, evenly spread, and scale the counters (0 = all; default 64 at real scale, all at small).",
            DefaultValueFactory = _ => -1,
        }.Require(v => v >= -1, "≥ 0 (a negative count is not a default)");
        var sanitize = new Option<bool>("--sanitize") { Description = "Also run the sanitizer (slower)." };
        var measured = new Option<FileInfo?>("--measured") { Description = "Per-kernel GPU times from `profile --backend ptx --json` to compare with the model." };
        var repetitions = new Option<int>("--repetitions") { Description = "Timed runs per workload on a GPU (medians).", DefaultValueFactory = _ => 10 };
        var precision = CliOptions.Precision();
        var json = CliOptions.Json("the profile");
        var command = new Command("profile", "Modeled H200 time of every op workload from emulator counters (a model, not a measurement); on a GPU, measured per-kernel times.")
        {
            backend, precision, ops, scale, sample, sanitize, measured, repetitions, json,
        };
        command.SetAction(parse => CommandGuard.Run(parse, () =>
        {
            string name = parse.GetValue(backend)!;
            if (name == "ptx")
            {
                return Measure(parse.GetValue(ops), parse.GetValue(scale), parse.GetValue(repetitions), parse.GetValue(json),
                    CliOptions.PrecisionOf(parse.GetValue(precision)) ?? Precision.Fast);
            }

            return Run(name, parse.GetValue(ops), parse.GetValue(scale), parse.GetValue(sample), parse.GetValue(sanitize), parse.GetValue(json),
                parse.GetValue(measured), CliOptions.PrecisionOf(parse.GetValue(precision)));
        }));
        return command;
    }

    /// <summary>On a GPU: each launch of every workload timed with CUDA events, medians over <paramref name="repetitions"/>.</summary>
    private static int Measure(string[]? ops, BenchmarkScale scale, int repetitions, FileInfo? json, Precision precision)
    {
        var names = Workloads(ops);
        using var gpu = PtxBackend.Create(precision);
        var profile = KernelCalibration.Measure(gpu, names, scale, repetitions);
        Console.WriteLine($"{gpu.Description} ({precision.Name()} precision): per-launch device time (CUDA events, median of {repetitions}), {scale} scale");
        foreach (var op in profile.Ops)
        {
            Console.WriteLine($"{op.Op} {op.Shape}: {op.Launches.Sum(l => l.Microseconds):F2} µs");
            foreach (var l in op.Launches)
            {
                Console.WriteLine($"  {l.Kernel,-32} grid {string.Join('x', l.Grid),-12} block {string.Join('x', l.Block),-10} {l.Microseconds,10:F2} µs");
            }
        }

        if (json is not null)
        {
            File.WriteAllText(json.FullName, profile.ToJson());
        }

        return 0;
    }

    private static string[] Workloads(string[]? ops)
    {
        var names = ops is { Length: > 0 } ? ops : OpWorkloads.Names;
        foreach (var name in names)
        {
            if (!OpWorkloads.Names.Contains(name))
            {
                throw new ArgumentException($"--ops: unknown workload '{name}' (known: {string.Join(", ", OpWorkloads.Names)}).");
            }
        }

        return names;
    }

    public static int Run(string backendName, string[]? ops, BenchmarkScale scale, int sampleCtas, bool sanitize, FileInfo? json,
        FileInfo? measured = null, Precision? precision = null)
    {
        if (!EmulatedBackends.Contains(backendName))
        {
            throw new ArgumentException($"--backend {backendName}: profiling needs an emulated backend ({string.Join(", ", EmulatedBackends)}) or ptx on a GPU.");
        }

        if (measured is not null && backendName != "ptx-emu")
        {
            throw new ArgumentException("--measured compares GPU times of the ptx backend: use it with --backend ptx-emu.");
        }

        var names = Workloads(ops);

        int ctas = sampleCtas >= 0 ? sampleCtas : scale == BenchmarkScale.Real ? 64 : 0;
        var options = new EmulatorOptions
        {
            Counters = true,
            Sanitize = sanitize,
            Sampling = ctas > 0 ? CtaSampling.AtMostPerLaunch(ctas) with { WholeKernels = WholeKernels } : null,
            FaultOnFindings = ctas == 0,
            MaxWarpInstructions = 4_000_000_000,
        };
        using var kernels = BackendRegistry.Create(backendName, options, precision);
        var gpu = BackendRegistry.EmulatorOf(kernels)!;
        Console.WriteLine($"{kernels.Name} ({kernels.Precision.Name()} precision): {names.Length} workloads at {scale} scale, {(options.Sampling is { } s ? s.ToString() : "every CTA")}");
        using var recorder = new ProfileRecorder(gpu);
        foreach (var name in names)
        {
            using var workload = OpWorkloads.Create(name, kernels, scale);
            bool tensor = backendName == "ptx-emu" && TensorCoreOps.Contains(name);
            using (recorder.BeginOp($"{name} {workload.Shape}", Roofline.ForOp(workload.Bytes, workload.Flops, tensor)))
            {
                workload.Run();
                kernels.Synchronize();
            }
        }

        var report = recorder.Report();
        Console.Write(report.ToText());
        if (json is not null)
        {
            File.WriteAllText(json.FullName, report.ToJson());
        }

        if (measured is not null)
        {
            PrintCalibration(MeasuredProfile.FromJson(File.ReadAllText(measured.FullName)), options);
        }

        return 0;
    }

    private static void PrintCalibration(MeasuredProfile measured, EmulatorOptions options)
    {
        var rows = KernelCalibration.Compare(measured, options);
        Console.WriteLine();
        Console.WriteLine($"calibration: measured on {measured.Device} ({measured.Scale} scale, median of {measured.Repetitions}) vs the H200 model");
        Console.WriteLine($"{"op / kernel",-34} {"grid",-14} {"measured µs",12} {"modeled µs",11} {"ratio",7}  model bound");
        foreach (var op in rows.GroupBy(r => r.Op))
        {
            Console.WriteLine($"{op.Key,-34} {"",-14} {op.Sum(r => r.MeasuredMicroseconds),12:F2} {op.Sum(r => r.ModeledMicroseconds),11:F2} {op.Sum(r => r.MeasuredMicroseconds) / op.Sum(r => r.ModeledMicroseconds),7:F2}");
            foreach (var r in op)
            {
                Console.WriteLine($"  {r.Kernel,-32} {string.Join('x', r.Grid),-14} {r.MeasuredMicroseconds,12:F2} {r.ModeledMicroseconds,11:F2} {r.Ratio,7:F2}  {ProfileReportText.Name(r.Bound)}");
            }
        }
    }
}
