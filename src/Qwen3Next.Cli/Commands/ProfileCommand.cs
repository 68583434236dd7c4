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
    private static readonly string[] TensorCoreOps = ["matmul-prefill", "moe-prefill", "moe-experts-prefill"];

    public static Command Create()
    {
        var backend = new Option<string>("--backend", "-b")
        {
            Description = $"Emulated backend: {string.Join(", ", EmulatedBackends)}.",
            DefaultValueFactory = _ => "ptx-emu",
        };
        var ops = new Option<string[]>("--ops")
        {
            Description = $"Workloads (default: all): {string.Join(", ", OpWorkloads.Names)}; ptx only: {string.Join(", ", OpWorkloads.PtxNames)}.",
            AllowMultipleArgumentsPerToken = true,
        };
        var tokens = new Option<int?>("--tokens") { Description = "Prefill tokens of the prefill workloads (default: 512 at real scale, 64 at small; 32768 for --prefill-cores), e.g. 32768." }
            .Require(v => v is null or >= 1, "at least 1");
        var compare = new Option<bool>("--compare-precisions")
        {
            Description = "Profile in exact and in fast precision and print each op's kernels side by side (ptx-emu).",
        };
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
        var prefillCores = new Option<bool>("--prefill-cores")
        {
            Description = "Issue 13's comparison instead of the workloads: the exact and tensor-core gated delta rule and attention prefill kernels at --tokens (one precision with --precision), beside the published anchors.",
        };
        var json = CliOptions.Json("the profile");
        var command = new Command("profile", "Modeled H200 time of every op workload from emulator counters (a model, not a measurement); on a GPU, measured per-kernel times.")
        {
            backend, precision, ops, tokens, compare, scale, sample, sanitize, measured, repetitions, prefillCores, json,
        };
        command.SetAction(parse => CommandGuard.Run(parse, () =>
        {
            string name = parse.GetValue(backend)!;
            if (parse.GetValue(prefillCores))
            {
                return name == "ptx-emu" ? ProfilePrefillCores.Run(parse.GetValue(tokens) ?? 32768, parse.GetValue(sample), parse.GetValue(json),
                    CliOptions.PrecisionOf(parse.GetValue(precision)))
                    : throw new ArgumentException($"--prefill-cores models the CUDA C kernels: use it with --backend ptx-emu, not {name}.");
            }

            if (name == "ptx")
            {
                return Measure(parse.GetValue(ops), parse.GetValue(scale), parse.GetValue(repetitions), parse.GetValue(json),
                    CliOptions.PrecisionOf(parse.GetValue(precision)) ?? Precision.Fast);
            }

            if (parse.GetValue(compare))
            {
                return Compare(name, parse.GetValue(ops), parse.GetValue(scale), parse.GetValue(sample), parse.GetValue(tokens), parse.GetValue(json));
            }

            return Run(name, parse.GetValue(ops), parse.GetValue(scale), parse.GetValue(sample), parse.GetValue(sanitize), parse.GetValue(json),
                parse.GetValue(measured), CliOptions.PrecisionOf(parse.GetValue(precision)), parse.GetValue(tokens));
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

    private static string[] Workloads(string[]? ops, bool ptxOnesToo = false)
    {
        var names = ops is { Length: > 0 } ? ops : OpWorkloads.Names;
        var known = ptxOnesToo ? [.. OpWorkloads.Names, .. OpWorkloads.PtxNames] : OpWorkloads.Names;
        foreach (var name in names)
        {
            if (!known.Contains(name))
            {
                throw new ArgumentException($"--ops: unknown workload '{name}' (known: {string.Join(", ", known)}).");
            }
        }

        return names;
    }

    public static int Run(string backendName, string[]? ops, BenchmarkScale scale, int sampleCtas, bool sanitize, FileInfo? json,
        FileInfo? measured = null, Precision? precision = null, int? tokens = null)
    {
        if (measured is not null && backendName != "ptx-emu")
        {
            throw new ArgumentException("--measured compares GPU times of the ptx backend: use it with --backend ptx-emu.");
        }

        var (report, options) = Profile(backendName, ops, scale, sampleCtas, sanitize, precision, tokens);
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

    /// <summary>Every requested workload once on <paramref name="backendName"/> under the counting emulator; the report
    /// and the emulator options it ran with.</summary>
    private static (ProfileReport Report, EmulatorOptions Options) Profile(string backendName, string[]? ops, BenchmarkScale scale, int sampleCtas,
        bool sanitize, Precision? precision, int? tokens)
    {
        if (!EmulatedBackends.Contains(backendName))
        {
            throw new ArgumentException($"--backend {backendName}: profiling needs an emulated backend ({string.Join(", ", EmulatedBackends)}) or ptx on a GPU.");
        }

        var names = Workloads(ops, ptxOnesToo: backendName == "ptx-emu");
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
        string mode = kernels is PtxBackend ptx ? ptx.PrecisionDescription : kernels.Precision.Name();
        Console.WriteLine($"{kernels.Name} ({mode} precision): {names.Length} workloads at {scale} scale{(tokens is { } t ? $", {t} prefill tokens" : "")}, {(options.Sampling is { } s ? s.ToString() : "every CTA")}");
        using var recorder = new ProfileRecorder(gpu);
        foreach (var name in names)
        {
            using var workload = OpWorkloads.Create(name, kernels, scale, prefillTokens: tokens);
            bool tensor = backendName == "ptx-emu" && TensorCoreOps.Contains(name);
            using (recorder.BeginOp($"{name} {workload.Shape}", Roofline.ForOp(workload.Bytes, workload.Flops, tensor)))
            {
                workload.Run();
                kernels.Synchronize();
            }
        }

        return (recorder.Report(), options);
    }

    /// <summary>The same workloads in exact and in fast precision: both reports, then each op's kernels side by side
    /// (the old kernel beside the one that replaces it), all modeled.</summary>
    private static int Compare(string backendName, string[]? ops, BenchmarkScale scale, int sampleCtas, int? tokens, FileInfo? json)
    {
        if (backendName != "ptx-emu")
        {
            throw new ArgumentException("--compare-precisions needs --backend ptx-emu (the only emulated backend with a fast precision).");
        }

        var (exact, _) = Profile(backendName, ops, scale, sampleCtas, sanitize: false, Precision.Exact, tokens);
        Console.Write(exact.ToText());
        Console.WriteLine();
        var (fast, _) = Profile(backendName, ops, scale, sampleCtas, sanitize: false, Precision.Fast, tokens);
        Console.Write(fast.ToText());
        Console.WriteLine();
        Console.WriteLine($"exact vs fast precision, modeled H200 µs per call ({ProfileReport.Label})");
        Console.WriteLine($"{"op / kernel (exact)",-40} {"µs",10} {"bound",-8} | {"kernel (fast)",-32} {"µs",10} {"bound",-8} {"roofline",8}");
        foreach (var (e, f) in exact.Ops.Zip(fast.Ops))
        {
            double speedup = f.SecondsPerCall > 0 ? e.SecondsPerCall / f.SecondsPerCall : 0;
            Console.WriteLine($"{Clip(e.Op, 40),-40} {e.SecondsPerCall * 1e6,10:F1} {ProfileReportText.Name(e.Bound),-8} | {"(op, " + speedup.ToString("F1", System.Globalization.CultureInfo.InvariantCulture) + "x)",-32} {f.SecondsPerCall * 1e6,10:F1} {ProfileReportText.Name(f.Bound),-8} {f.FractionOfRoofline(fast.Spec),8:P0}");
            for (int i = 0; i < Math.Max(e.Launches.Count, f.Launches.Count); i++)
            {
                string left = i < e.Launches.Count
                    ? $"  {Clip(e.Launches[i].Kernel, 38),-38} {e.Launches[i].Seconds * 1e6 / Math.Max(1, e.Calls),10:F1} {ProfileReportText.Name(e.Launches[i].Estimate.Binding.Kind),-8}"
                    : new string(' ', 59);
                string right = i < f.Launches.Count
                    ? $"{Clip(f.Launches[i].Kernel, 32),-32} {f.Launches[i].Seconds * 1e6 / Math.Max(1, f.Calls),10:F1} {ProfileReportText.Name(f.Launches[i].Estimate.Binding.Kind),-8} {f.Launches[i].Estimate.FractionOfRoofline,8:P0}"
                    : "";
                Console.WriteLine($"{left} | {right}");
            }
        }

        if (json is not null)
        {
            File.WriteAllText(json.FullName, $"{{\"exact\": {exact.ToJson()}, \"fast\": {fast.ToJson()}}}");
        }

        return 0;
    }

    private static string Clip(string s, int width) => s.Length <= width ? s : s[..(width - 1)] + "…";

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
