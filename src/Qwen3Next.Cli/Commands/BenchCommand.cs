using System.CommandLine;
using System.Text.Json;
using Qwen3Next.Backends;
using Qwen3Next.Benchmarks;

namespace Qwen3Next.Cli.Commands;

/// <summary><c>kernels bench</c>: op workloads on a backend, each as GB/s, GFLOP/s and a fraction of the roofline
/// whose bandwidth is the device copy bandwidth measured in the same run.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var backend = CliOptions.Backend();
        var precision = CliOptions.Precision();
        var ops = new Option<string[]>("--ops") { Description = $"Workloads, space- or comma-separated (default: all): {string.Join(", ", OpWorkloads.Names)}.", AllowMultipleArgumentsPerToken = true };
        var scale = new Option<BenchmarkScale>("--scale") { Description = "small (CPU-friendly) or real (Qwen3-Next-80B-A3B shapes).", DefaultValueFactory = _ => BenchmarkScale.Small };
        var iterations = new Option<int>("--iterations", "-i") { Description = "Timed calls per workload.", DefaultValueFactory = _ => 10 }.AtLeast(1);
        var peak = new Option<double?>("--peak-tflops") { Description = "Peak FLOP/s of the device for the compute roof (e.g. 67 for H200 fp32 CUDA cores)." }.Positive();
        var json = CliOptions.Json("the measurements");
        var command = new Command("bench", "Time op workloads and report them against the measured copy bandwidth.") { backend, precision, ops, scale, iterations, peak, json };
        command.SetAction(parse => CommandGuard.Run(parse, () =>
        {
            int n = parse.GetValue(iterations);
            var names = WorkloadNames(parse.GetValue(ops));
            var size = parse.GetValue(scale);
            if (ProfileCommand.EmulatedBackends.Contains(parse.GetValue(backend)))
            {
                // The emulator's wall-clock time is not a GPU's: report the modeled H200 time instead.
                Console.WriteLine("bench on an emulated backend prints the H200 model (kernels profile), not the emulator's own time");
                return ProfileCommand.Run(parse.GetValue(backend)!, names, size, -1, sanitize: false, parse.GetValue(json),
                    precision: CliOptions.PrecisionOf(parse.GetValue(precision)));
            }

            double? peakGflops = parse.GetValue(peak) * 1000;
            using var kernels = BackendRegistry.Create(parse.GetValue(backend)!, CliOptions.PrecisionOf(parse.GetValue(precision)));
            var ceiling = OpBenchmark.CopyCeiling(kernels, size == BenchmarkScale.Real ? 64L << 20 : 1L << 20, n);
            Console.WriteLine($"{kernels.Name} ({kernels.Precision.Name()}): device copy {ceiling.GigabytesPerSecond:F2} GB/s ({ceiling.Shape}) is the memory ceiling");
            var upload = OpBenchmark.HostToDeviceCeiling(kernels, size == BenchmarkScale.Real ? 256L << 20 : 16L << 20, n);
            if (upload is not null)
            {
                Console.WriteLine($"{kernels.Name}: host-to-device {upload.GigabytesPerSecond:F2} GB/s ({upload.Shape}) is the streaming ceiling");
            }

            Console.WriteLine($"{"workload",-18} {"shape",-44} {"median ms",10} {"GB/s",9} {"GFLOP/s",9} {"of roof",8}");
            var results = new List<OpMeasurement>();
            foreach (var name in names)
            {
                using var workload = OpWorkloads.Create(name, kernels, size);
                var m = OpBenchmark.Measure(kernels, workload, n);
                results.Add(m);
                Console.WriteLine($"{m.Name,-18} {m.Shape,-44} {m.MedianSeconds * 1e3,10:F3} {m.GigabytesPerSecond,9:F2} {m.GigaflopsPerSecond,9:F2} {m.RooflineFraction(ceiling.GigabytesPerSecond, peakGflops),8:P1}");
            }

            if (parse.GetValue(json) is { } file)
            {
                File.WriteAllText(file.FullName, JsonSerializer.Serialize(new
                {
                    backend = kernels.Name,
                    precision = kernels.Precision.Name(),
                    scale = size.ToString(),
                    copy_gbps = ceiling.GigabytesPerSecond,
                    host_to_device_gbps = upload?.GigabytesPerSecond,
                    device = OpBenchmark.DeviceDescription(kernels),
                    measurements = results.Select(m => new
                    {
                        m.Name,
                        m.Shape,
                        m.Bytes,
                        m.Flops,
                        median_ms = m.MedianSeconds * 1e3,
                        min_ms = m.MinSeconds * 1e3,
                        gbps = m.GigabytesPerSecond,
                        gflops = m.GigaflopsPerSecond,
                        roofline_fraction = m.RooflineFraction(ceiling.GigabytesPerSecond, peakGflops),
                    }),
                }, JsonOutput.Options));
            }

            return 0;
        }));
        return command;
    }

    /// <summary>Checked before anything is measured, so a typo costs nothing.</summary>
    private static string[] WorkloadNames(string[]? chosen)
    {
        var names = (chosen ?? []).SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
        if (names.Length == 0)
        {
            return OpWorkloads.Names;
        }

        var unknown = names.Where(name => !OpWorkloads.Names.Contains(name)).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"--ops: unknown workload '{unknown[0]}'{(unknown.Count > 1 ? $" (and {unknown.Count - 1} more)" : string.Empty)}; known: {string.Join(", ", OpWorkloads.Names)}.");
        }

        return names;
    }
}
