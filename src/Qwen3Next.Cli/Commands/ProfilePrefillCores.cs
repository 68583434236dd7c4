using Qwen3Next.Backends;
using Qwen3Next.Benchmarks;
using Qwen3Next.PtxEmulator.Profiling;

namespace Qwen3Next.Cli.Commands;

/// <summary>
/// <c>kernels profile --prefill-cores</c>: issue 13's comparison (<see cref="PrefillCoreComparison"/>): the modeled H200
/// time and bound of the exact fp32 and the tensor-core prefill kernels at the issue's shapes, beside the published
/// anchors. A model, labelled as such.
/// </summary>
internal static class ProfilePrefillCores
{
    /// <param name="precision">Model only this precision's kernels (default both).</param>
    public static int Run(int tokens, int sampleCtas, FileInfo? json, Precision? precision = null)
    {
        if (tokens < 2)
        {
            throw new ArgumentException($"--tokens {tokens}: the prefill comparison needs at least 2 tokens.");
        }

        int ctas = sampleCtas >= 0 ? sampleCtas : 64;
        Console.WriteLine($"prefill cores at T = {tokens} (one sequence), {(ctas > 0 ? $"at most {ctas} CTAs per launch, evenly spread" : "every CTA")}");
        var report = PrefillCoreComparison.Run(tokens, ctas, line => Console.Error.WriteLine($"  running {line}"),
            precision is { } p ? [p] : null);
        Console.Write(report.ToText());
        Console.WriteLine();
        Console.WriteLine(ProfileReport.Label);
        Console.WriteLine($"{"kernels the anchors time",-44} {"modeled ms",11}  bound");
        Print(report, PrefillCoreComparison.RuleOp(Precision.Exact));
        Print(report, PrefillCoreComparison.RuleOp(Precision.Fast));
        foreach (var a in PrefillCoreComparison.GatedDeltaAnchors)
        {
            Console.WriteLine($"  {"anchor: " + a.Name,-42} {a.Milliseconds,11:F3}  (published at 32,768 tokens, issue 13)");
        }

        Print(report, PrefillCoreComparison.AttentionOp(Precision.Exact));
        Print(report, PrefillCoreComparison.AttentionOp(Precision.Fast));
        foreach (var a in PrefillCoreComparison.AttentionAnchors)
        {
            Console.WriteLine($"  {"anchor: " + a.Name,-42} {a.Milliseconds,11:F3}  (published at 32,768 tokens, issue 13)");
        }

        if (json is not null)
        {
            File.WriteAllText(json.FullName, report.ToJson());
        }

        return 0;
    }

    private static void Print(ProfileReport report, string op)
    {
        if (report.Ops.All(o => o.Op != op))
        {
            return;
        }

        var launches = report.Ops.Single(o => o.Op == op).Launches.Where(l => PrefillCoreComparison.IsCoreKernel(l.Kernel)).ToList();
        Console.WriteLine($"{op,-44} {launches.Sum(l => l.Seconds) * 1e3,11:F3}");
        foreach (var l in launches)
        {
            Console.WriteLine($"  {l.Kernel,-42} {l.Seconds * 1e3,11:F3}  {ProfileReportText.Name(l.Estimate.Binding.Kind)}");
        }
    }
}
