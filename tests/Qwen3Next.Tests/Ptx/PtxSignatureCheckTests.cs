using NUnit.Framework;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Benchmarks;
using Qwen3Next.Conformance;
using Qwen3Next.Cuda;

namespace Qwen3Next.Tests.Ptx;

/// <summary>
/// Every ptx launcher, driven through real op calls on the host-memory signature-check driver, passes arguments that
/// match the compiled kernel's <c>.entry</c> parameter list, a valid launch configuration and pointers into live
/// device allocations. Nothing is launched, so the numbers are not checked here (that needs a GPU or the emulator),
/// but an argument-order, type or offset slip in a launcher is caught.
/// </summary>
public sealed class PtxSignatureCheckTests
{
    private PtxBackend? backend;

    [OneTimeSetUp]
    public void Create()
    {
        if (PtxCatalog.Embedded.IsEmpty)
        {
            Assert.Ignore("No PTX embedded (nvcc was not available at build time).");
        }

        backend = PtxBackend.CreateSignatureCheck();
    }

    [OneTimeTearDown]
    public void Dispose() => backend?.Dispose();

    [Test]
    public void SignaturesAreParsedForEveryKernel()
    {
        foreach (var kernel in PtxCatalog.Embedded.Kernels)
        {
            Assert.That(backend!.Signatures.Of(kernel), Is.Not.Empty, kernel);
        }
    }

    [TestCaseSource(typeof(OpWorkloads), nameof(OpWorkloads.Names))]
    public void WorkloadLaunchesMatchTheirKernels(string workload)
    {
        using var w = OpWorkloads.Create(workload, backend!, BenchmarkScale.Small);
        long before = backend!.DriverCounters.Launches;
        Assert.DoesNotThrow(() => w.Run());
        Assert.That(backend.DriverCounters.Launches, Is.GreaterThan(before), "the op went through the ptx launchers");
    }

    public static IEnumerable<string> GoldenCases()
    {
        string root = Path.Combine(AppContext.BaseDirectory, "data", "golden");
        return ConformanceRunner.Discover([Path.Combine(root, "kernels"), Path.Combine(root, "models")]);
    }

    [TestCaseSource(nameof(GoldenCases))]
    public void GoldenCaseLaunchesMatchTheirKernels(string path)
        => Assert.That(() => ConformanceRunner.Run(path, backend!), Throws.Nothing);

    [Test]
    public void AMismatchNamesTheKernelAndParameter()
    {
        var args = new KernelArguments().Add(1.5f);
        Assert.That(() => backend!.Signatures.Check("residual_add", args), Throws.ArgumentException.With.Message.Contains("residual_add"));
    }
}
