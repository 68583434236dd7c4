using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Benchmarks;
using Qwen3Next.Conformance;
using Qwen3Next.Cuda;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.GatedDelta;
using Qwen3Next.Ops.Moe;
using Qwen3Next.Tests.Ops.Moe;

namespace Qwen3Next.Tests.Ptx;

/// <summary>
/// Every ptx launcher, driven through real op calls on the host-memory signature-check driver, passes arguments that
/// match the compiled kernel's <c>.entry</c> parameter list, a valid launch configuration and pointers into live
/// device allocations. Nothing is launched, so the numbers are not checked here (that needs a GPU or the emulator),
/// but an argument-order, type or offset slip in a launcher is caught. Both precisions: fast reaches the bf16 casts
/// and the sm_90a (wgmma) kernels where this build has them.
/// </summary>
[TestFixture(Precision.Exact)]
[TestFixture(Precision.Fast)]
public sealed class PtxSignatureCheckTests(Precision precision)
{
    private PtxBackend? backend;

    [OneTimeSetUp]
    public void Create()
    {
        if (PtxCatalog.Embedded.IsEmpty)
        {
            Assert.Ignore("No PTX embedded (nvcc was not available at build time).");
        }

        backend = PtxBackend.CreateSignatureCheck(precision);
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

    /// <summary>The model has no plain RMSNorm and samples on the host, so no golden case or workload reaches these two.</summary>
    internal static void RunOpsTheModelDoesNotUse(PtxBackend backend)
    {
        using var x = backend.Upload(new float[3 * 65]);
        using var weight = backend.LoadWeight(RandomWeights.Vector("norm.weight", 65, 1f, new Random(1)));
        backend.Basic.RmsNorm(x, weight, x, 3, 65, 1e-6f, zeroCentred: false);
        backend.Basic.ArgmaxRows(x, 3, 65, new int[3]);
    }

    /// <summary>MoE paths the goldens and workloads do not take: the unfused decode (kept for comparison), and streamed
    /// experts (the device-side acquire and the copy kernel of a prefill; a decode with its prediction). Enables
    /// streaming on <paramref name="backend"/>.</summary>
    internal static void RunMoePathsOffTheDefault(PtxBackend backend)
    {
        var shape = new MoeShape(64, 16, 4, 24, 32, true);
        var c = new MoeCase(shape, tokens: 12, seed: 1);
        using (var resident = c.Load(backend))
        {
            var ops = (PtxMoeOps)backend.Moe;
            ops.UnfusedDecode = true;
            RunBlock(backend, shape, 2, resident);
            ops.UnfusedDecode = false;
        }

        backend.EnableExpertStreaming(shape, layers: 2, slots: 16);
        using var first = c.Load(backend);
        using var second = c.Load(backend);
        foreach (int tokens in new[] { 12, 1 })
        {
            RunBlock(backend, shape, tokens, first);
            RunBlock(backend, shape, tokens, second);
        }
    }

    private static void RunBlock(PtxBackend backend, MoeShape shape, int tokens, MoeWeights weights)
    {
        using var x = backend.Upload(new float[tokens * shape.Hidden]);
        using var y = backend.Allocate((long)tokens * shape.Hidden);
        backend.Moe.Block(shape, tokens, x, weights, y);
    }

    [Test]
    public void MoePathsOffTheDefaultLaunchTheirKernels()
    {
        using var fresh = PtxBackend.CreateSignatureCheck();
        Assert.DoesNotThrow(() => RunMoePathsOffTheDefault(fresh));
        var launched = ((SignatureCheckDriver)fresh.Driver).CheckedLaunches;
        Assert.That(new[] { PtxMoeOps.GateUpGemv, PtxMoeOps.DownGemv, PtxMoeOps.CacheAcquire, PtxMoeOps.ExpertCopy }.Where(k => !launched.ContainsKey(k)),
            Is.Empty);
    }

    [Test]
    public void OpsTheModelDoesNotUseLaunchTheirKernels()
    {
        long before = backend!.DriverCounters.Launches;
        Assert.DoesNotThrow(() => RunOpsTheModelDoesNotUse(backend));
        Assert.That(backend.DriverCounters.Launches, Is.EqualTo(before + 2));
    }

    [Test]
    public void AMismatchNamesTheKernelAndParameter()
    {
        var args = new KernelArguments().Add(1.5f);
        Assert.That(() => backend!.Signatures.Check("residual_add", args), Throws.ArgumentException.With.Message.Contains("residual_add"));
    }
}
