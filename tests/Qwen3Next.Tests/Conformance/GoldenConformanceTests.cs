using NUnit.Framework;
using Qwen3Next.Conformance;

namespace Qwen3Next.Tests.Conformance;

/// <summary>Every public golden case on every backend that runs here — the CUDA C and ILGPU kernels included, as
/// their PTX on the emulator with the sanitizer on — with the golden tolerances (the checks <c>kernels verify</c>
/// prints). Fixtures (one per backend) run in parallel with each other.</summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.AllBackends))]
[Parallelizable(ParallelScope.Self)]
public sealed class GoldenConformanceTests(string backendName)
{
    public static IEnumerable<TestCaseData> Cases()
    {
        string root = Path.Combine(AppContext.BaseDirectory, "data", "golden");
        return ConformanceRunner.Discover([Path.Combine(root, "kernels"), Path.Combine(root, "models")])
            .Select(path => new TestCaseData(path).SetName(Path.GetFileNameWithoutExtension(path)));
    }

    [TestCaseSource(nameof(Cases))]
    public void PassesWithinGoldenTolerance(string path)
    {
        var results = ConformanceRunner.Run(path, TestBackends.Get(backendName));
        var failed = results.Where(r => !r.Passed).Select(r => $"{r.Output}: max abs {r.MaxAbsError:E2} (tol {r.Tolerance}) {r.Detail}").ToList();
        Assert.That(results, Is.Not.Empty);
        Assert.That(failed, Is.Empty, string.Join(Environment.NewLine, failed));
    }
}
