using System.CommandLine;
using System.Text.Json;
using Qwen3Next.Backends;
using Qwen3Next.Conformance;

namespace Qwen3Next.Cli.Commands;

/// <summary><c>kernels verify PATH...</c>: the conformance runner over golden cases.</summary>
internal static class VerifyCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("paths") { Description = "Golden files or folders (a model folder holds a checkpoint and golden.safetensors).", Arity = ArgumentArity.OneOrMore };
        var backend = CliOptions.Backend();
        var precision = CliOptions.Precision();
        var json = CliOptions.Json("every check");
        var command = new Command("verify", "Run golden cases on a backend; exit 1 when any check fails.") { paths, backend, precision, json };
        command.SetAction(parse => CommandGuard.Run(parse, () =>
        {
            var cases = ConformanceRunner.Discover(parse.GetValue(paths)!);
            if (cases.Count == 0)
            {
                throw new FileNotFoundException($"no golden cases (*.safetensors files or model folders with {ConformanceRunner.ModelGoldenFile}) under {string.Join(", ", parse.GetValue(paths)!)}.");
            }
            using var kernels = BackendRegistry.Create(parse.GetValue(backend)!, CliOptions.PrecisionOf(parse.GetValue(precision)));
            var all = new List<CheckResult>();
            int unreadable = 0;
            foreach (var path in cases)
            {
                IReadOnlyList<CheckResult> results;
                try
                {
                    results = ConformanceRunner.Run(path, kernels);
                }
                catch (Exception e) when (e is Checkpoint.CheckpointException or IOException or KeyNotFoundException or JsonException or InvalidOperationException)
                {
                    Console.WriteLine($"FAIL  {Path.GetFileName(path)}: {e.Message}");
                    all.Add(new CheckResult(Path.GetFileName(path), "(unreadable)", double.NaN, double.NaN, "-", false, e.Message));
                    unreadable++;
                    continue;
                }

                foreach (var r in results)
                {
                    Console.WriteLine($"{(r.Passed ? "pass" : "FAIL")}  {r.Case,-26} {r.Output,-36} max abs {r.MaxAbsError,10:E2}  max rel {r.MaxRelError,10:E2}  tol {r.Tolerance}{(r.Detail is null ? string.Empty : "  " + r.Detail)}");
                }

                all.AddRange(results);
            }

            int failed = all.Count(r => !r.Passed);
            Console.WriteLine($"{kernels.Name} ({kernels.Precision.Name()}): {cases.Count} cases, {all.Count - failed} checks passed, {failed} failed{(unreadable > 0 ? $", {unreadable} unreadable" : string.Empty)}");
            if (parse.GetValue(json) is { } file)
            {
                File.WriteAllText(file.FullName, JsonSerializer.Serialize(new { backend = kernels.Name, precision = kernels.Precision.Name(), checks = all }, JsonOutput.Options));
            }

            return failed == 0 ? 0 : 1;
        }));
        return command;
    }
}
