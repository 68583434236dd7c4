using System.CommandLine;
using Qwen3Next.Backends;
using Qwen3Next.Benchmarks;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Model;
using Qwen3Next.PtxEmulator.Profiling;

namespace Qwen3Next.Cli.Commands;

/// <summary>
/// <c>kernels profile</c>: every op workload once on an emulated backend with counters on, and the H200 model's
/// time per kernel and per op, its bound and its fraction of the roofline. A model, labelled as such: the emulator's
/// own wall-clock time says nothing about a GPU.
/// </summary>
internal static class ProfileCommand
{
    public static readonly string[] EmulatedBackends = ["ptx-emu", "ilgpu-emu"];

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
        var json = CliOptions.Json("the profile");
        var command = new Command("profile", "Modeled H200 time of every op workload from emulator counters (a model, not a measurement).")
        {
            backend, ops, scale, sample, sanitize, json,
        };
        command.SetAction(parse => CommandGuard.Run(parse, () => Run(parse.GetValue(backend)!, parse.GetValue(ops), parse.GetValue(scale),
            parse.GetValue(sample), parse.GetValue(sanitize), parse.GetValue(json))));
        return command;
    }

    public static int Run(string backendName, string[]? ops, BenchmarkScale scale, int sampleCtas, bool sanitize, FileInfo? json)
    {
        if (!EmulatedBackends.Contains(backendName))
        {
            throw new ArgumentException($"--backend {backendName}: profiling needs an emulated backend ({string.Join(", ", EmulatedBackends)}).");
        }

        var names = ops is { Length: > 0 } ? ops : OpWorkloads.Names;
        foreach (var name in names)
        {
            if (!OpWorkloads.Names.Contains(name))
            {
                throw new ArgumentException($"--ops: unknown workload '{name}' (known: {string.Join(", ", OpWorkloads.Names)}).");
            }
        }

        int ctas = sampleCtas >= 0 ? sampleCtas : scale == BenchmarkScale.Real ? 64 : 0;
        var options = new EmulatorOptions
        {
            Counters = true,
            Sanitize = sanitize,
            Sampling = ctas > 0 ? CtaSampling.AtMostPerLaunch(ctas) : null,
        };
        using var kernels = BackendRegistry.Create(backendName, options);
        var gpu = BackendRegistry.EmulatorOf(kernels)!;
        Console.WriteLine($"{kernels.Name}: {names.Length} workloads at {scale} scale, {(options.Sampling is { } s ? s.ToString() : "every CTA")}");
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

        return 0;
    }
}
