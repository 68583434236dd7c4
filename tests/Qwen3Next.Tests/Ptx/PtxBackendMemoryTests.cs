using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Backends.Reference;
using Qwen3Next.Benchmarks;
using Qwen3Next.Cuda;

namespace Qwen3Next.Tests.Ptx;

/// <summary>
/// The ptx backend owns its memory through its driver: on the host-memory driver its uploads, downloads, copies,
/// zeroed allocations and workspaces really move bytes, every one is a counted driver call, and a decode-shaped op
/// issues no allocation and no host synchronisation once its workspaces exist (so it can be captured as a graph).
/// </summary>
public sealed class PtxBackendMemoryTests
{
    private PtxBackend backend = null!;

    private SignatureCheckDriver Driver => (SignatureCheckDriver)backend.Driver;

    [SetUp]
    public void Create()
    {
        if (PtxCatalog.Embedded.IsEmpty)
        {
            Assert.Ignore("No PTX embedded (nvcc was not available at build time).");
        }

        backend = PtxBackend.CreateSignatureCheck();
    }

    [TearDown]
    public void Dispose() => backend?.Dispose();

    [Test]
    public void UploadDownloadCopyAndAllocateMoveRealBytes()
    {
        var values = Enumerable.Range(0, 65).Select(i => (i * 0.25f) - 4f).ToArray();
        using var a = backend.Upload(values);
        using var b = backend.Allocate(70);
        backend.Copy(a, 1, b, 5, 64);
        var back = new float[70];
        backend.Download(b, back);
        var first = new float[65];
        backend.Download(a, first);

        Assert.That(first, Is.EqualTo(values));
        Assert.That(back[..5], Is.All.EqualTo(0f), "Allocate zero-fills");
        Assert.That(back[5..69], Is.EqualTo(values[1..]));
        Assert.That(back[69], Is.Zero);
        var counters = backend.DriverCounters;
        Assert.That((counters.Copies(CopyDirection.HostToDevice), counters.Copies(CopyDirection.DeviceToDevice), counters.Copies(CopyDirection.DeviceToHost)),
            Is.EqualTo((1L, 1L, 2L)));
        Assert.That((counters.CopiedBytes(CopyDirection.DeviceToDevice), counters.Memsets, counters.HostSynchronizations), Is.EqualTo((256L, 1L, 2L)));
        Assert.That(backend.Description, Does.Contain("host memory"));
    }

    [Test]
    public void RangesOutsideATensorAndForeignTensorsAreRefused()
    {
        using var a = backend.Allocate(8);
        using var reference = new ReferenceBackend();
        using var foreign = reference.Upload(new float[8]);

        // The shared op contract (OpContracts) refuses both before the device span is sliced.
        Assert.That(() => backend.Download(a, new float[9]), Throws.ArgumentException.With.Message.Contains("source holds 8 floats"));
        Assert.That(() => backend.Copy(a, 4, a, 0, 5), Throws.InstanceOf<ArgumentException>().With.Property("ParamName").EqualTo("source"));
        Assert.That(() => backend.Basic.Add(a, foreign, 8), Throws.ArgumentException.With.Message.Contains("allocated by another backend (HostTensor)"));
        Assert.That(backend.DriverCounters.Launches, Is.Zero);
    }

    [Test]
    public void DisposingATensorFreesItsAllocationAndTensorsMayOutliveTheBackend()
    {
        backend.ArenaCapacityBytes = 0;
        int before = Driver.LiveAllocations;
        var a = backend.Allocate(8);
        Assert.That(Driver.LiveAllocations, Is.EqualTo(before + 1));
        a.Dispose();
        a.Dispose();
        Assert.That((Driver.LiveAllocations, backend.DriverCounters.Frees), Is.EqualTo((before, 1L)));

        var survivor = backend.Allocate(8);
        backend.Dispose();
        Assert.That(() => survivor.Dispose(), Throws.Nothing);
    }

    /// <summary>A disposed tensor's buffer serves the next tensor of its length (zero-filled again, no driver allocation);
    /// beyond the arena's capacity a returned buffer is freed.</summary>
    [Test]
    public void TheArenaReusesABufferOfTheSameLengthAndFreesBeyondItsCapacity()
    {
        var counters = backend.DriverCounters;
        var first = backend.Upload([1f, 2f, 3f]);
        var address = PtxBackend.T(first).Span.Address;
        first.Dispose();
        long allocations = counters.Allocations;
        using (var second = backend.Allocate(3))
        {
            var values = new float[3];
            backend.Download(second, values);
            Assert.That((PtxBackend.T(second).Span.Address, values), Is.EqualTo((address, new float[3])), "the same buffer, zero-filled");
            Assert.That((counters.Allocations, counters.Frees), Is.EqualTo((allocations, 0L)));
        }

        backend.ArenaCapacityBytes = 16;
        var big = backend.Allocate(5);
        big.Dispose();
        Assert.That((counters.Frees, backend.Arena.IdleBytes), Is.EqualTo((1L, 12L)), "20 bytes do not fit beside the idle 12");
    }

    [Test]
    public void AWorkspaceSlotGrowsOnlyWhenTooSmallAndWaitsForTheStreamFirst()
    {
        var small = backend.Workspace.Get<float>("test.slot", 10);
        var again = backend.Workspace.Get<float>("test.slot", 10);
        var smaller = backend.Workspace.Get<int>("test.slot", 3);
        var counters = backend.DriverCounters;
        long allocations = counters.Allocations;

        Assert.That(again.Address, Is.EqualTo(small.Address));
        Assert.That((smaller.Address, smaller.Length), Is.EqualTo((small.Address, 3L)));
        var bigger = backend.Workspace.Get<float>("test.slot", 11);
        Assert.That(bigger.Length, Is.EqualTo(11));
        Assert.That((counters.Allocations, counters.Frees, counters.HostSynchronizations), Is.EqualTo((allocations + 1, 1L, 1L)));
        Assert.That(backend.Workspace.Get<float>("test.empty", 0).Length, Is.EqualTo(1), "an empty slot still has an address");
    }

    /// <summary>Once its workspaces exist a decode-shaped op is pure stream work: it captures into a graph (which
    /// refuses allocation, synchronisation and pageable copies) and replay re-issues every kernel.</summary>
    [TestCase("matmul-decode")]
    [TestCase("rmsnorm")]
    [TestCase("gdn-decode")]
    [TestCase("moe-decode")]
    public void AfterWarmUpADecodeOpCapturesAsAGraph(string workload)
    {
        using var w = OpWorkloads.Create(workload, backend, BenchmarkScale.Small);
        w.Run();
        var driver = backend.Driver;
        var launchesBefore = Driver.CheckedLaunches.Values.Sum();

        driver.BeginCapture(backend.Stream, workload);
        w.Run();
        var graph = driver.EndCapture(backend.Stream, workload);
        var exec = driver.Instantiate(graph, workload);
        long captured = Driver.CheckedLaunches.Values.Sum() - launchesBefore;
        driver.LaunchGraph(exec, backend.Stream, workload);
        driver.LaunchGraph(exec, backend.Stream, workload);
        long replayed = Driver.CheckedLaunches.Values.Sum() - launchesBefore;
        driver.DestroyGraphExec(exec, workload);
        driver.DestroyGraph(graph, workload);

        Assert.That(captured, Is.Zero, "capture runs nothing");
        Assert.That(replayed, Is.GreaterThanOrEqualTo(2), "each replay runs the op's kernels");
        Assert.That(replayed % 2, Is.Zero);
        Assert.That(backend.DriverCounters.GraphLaunches, Is.EqualTo(2));
    }
}
