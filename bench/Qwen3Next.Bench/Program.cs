using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

// In-process so the benchmarks also run where only the .NET runtime exists (the GPU machine); BenchmarkDotNet
// otherwise runs nothing there and still exits 0, so an empty run is turned into a failure below.
var config = DefaultConfig.Instance
    .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
    .WithOptions(ConfigOptions.DisableOptimizationsValidator)
    .WithArtifactsPath(Path.Combine(Environment.CurrentDirectory, "BenchmarkDotNet.Artifacts"));
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Qwen3Next.Bench.OpBenchmarks).Assembly).Run(args, config).ToList();
bool ran = summaries.Count > 0 && summaries.All(s => s.Reports.Length > 0 && s.Reports.All(r => r.Success));
if (!ran)
{
    Console.Error.WriteLine("error: no benchmark produced a successful report (check the filter and the errors above).");
}

return ran ? 0 : 1;
