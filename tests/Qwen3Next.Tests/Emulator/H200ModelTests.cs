using NUnit.Framework;
using Qwen3Next.PtxEmulator.Counters;
using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Execution;
using Qwen3Next.PtxEmulator.Model;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// Each bound of the H200 model dominates when its resource is the one a launch exhausts, with times checked
/// against hand calculation. A spec with round numbers (100 SMs at 1 GHz) keeps the arithmetic readable.
/// </summary>
public sealed class H200ModelTests
{
    private static readonly H200Spec Spec = H200Spec.Default with
    {
        Sms = 100,
        ClockHz = 1e9,
        HbmAchievableBytesPerSecond = 4e12,
        L2BytesPerSecond = 8e12,
        L2BytesPerClockPerSm = 128,
        DramLatencySeconds = 500e-9,
        LaunchOverheadSeconds = 2e-6,
    };

    private static readonly H200Model Model = new(Spec, PtxasReport.Parse());

    /// <summary>1000 CTAs of 256 threads with 32 registers: 8 CTAs per SM (warp limit), 10 CTAs on the busiest SM.</summary>
    private static readonly LaunchGeometry Grid1000 = new(1000, 256);

    private static readonly KernelResources Regs32 = new("k", 32, 0, "test");

    private static LaunchCounters Counters(LaunchGeometry g)
    {
        var c = new LaunchCounters { Ctas = g.Grid.Count, Warps = g.Grid.Count * ((g.Block.Count + 31) / 32) };
        c.CtasRun = c.Ctas;
        return c;
    }

    private static void Issue(LaunchCounters c, Op op, long warpInstructions, int lanes = 32)
    {
        c.WarpInstructionsByOp[(int)op] += warpInstructions;
        c.ThreadInstructionsByOp[(int)op] += warpInstructions * lanes;
    }

    private static LaunchEstimate Estimate(LaunchCounters c, LaunchGeometry? g = null, KernelResources? r = null)
        => Model.Estimate("k", g ?? Grid1000, r ?? Regs32, c);

    [Test]
    public void DramBoundIsUniqueBytesOverAchievableBandwidth()
    {
        var c = Counters(Grid1000);
        c.UniqueLoadSectors = 100_000_000; // 3.2 GB
        c.UniqueStoreSectors = 25_000_000; // 0.8 GB
        c.GlobalLoadSectors = 100_000_000;
        c.GlobalStoreSectors = 25_000_000;
        var e = Estimate(c);
        Assert.That(e.Binding.Kind, Is.EqualTo(BoundKind.Dram));
        Assert.That(e.Seconds, Is.EqualTo(4e9 / 4e12).Within(1e-12));
        Assert.That(e.Bound(BoundKind.L2).Seconds, Is.EqualTo(4e9 / 8e12).Within(1e-12), "aggregate L2 (per-SM share is 40 MB / 128 GB/s = 0.3125 ms)");
    }

    [Test]
    public void L2BoundCountsEverySectorRequestIncludingRereads()
    {
        var c = Counters(Grid1000);
        c.UniqueLoadSectors = 1_000_000;
        c.GlobalLoadSectors = 500_000_000; // 16 GB of sector traffic, each byte read ~500 times
        var e = Estimate(c);
        Assert.That(e.Binding.Kind, Is.EqualTo(BoundKind.L2));
        Assert.That(e.Seconds, Is.EqualTo(16e9 / 8e12).Within(1e-12));
    }

    [Test]
    public void L2BoundOfFewCtasIsThePerSmPath()
    {
        var g = new LaunchGeometry(4, 256);
        var c = Counters(g);
        c.GlobalLoadSectors = 4_000_000; // 128 MB, 32 MB per CTA: 32e6 / (128 B × 1e9) = 0.25 ms
        c.UniqueLoadSectors = 1000;
        var e = Estimate(c, g);
        Assert.That(e.Binding.Kind, Is.EqualTo(BoundKind.L2));
        Assert.That(e.Seconds, Is.EqualTo(32e6 / 128e9).Within(1e-12));
    }

    [Test]
    public void SharedBoundIsWavefrontsOnTheBusiestSm()
    {
        var c = Counters(Grid1000);
        c.SharedLoadRequests = 25_000_000;
        c.SharedWavefronts = 100_000_000; // 4-way conflicts; 1e6 wavefronts per SM at 1/clk = 1 ms
        Issue(c, Op.Ld, 25_000_000);
        var e = Estimate(c);
        Assert.That(e.Binding.Kind, Is.EqualTo(BoundKind.Shared));
        Assert.That(e.Seconds, Is.EqualTo(1e-3).Within(1e-12));
        Assert.That(c.SharedBankConflicts, Is.EqualTo(75_000_000));
    }

    [Test]
    public void IssueBoundIsWarpInstructionsOverFourSchedulers()
    {
        var c = Counters(Grid1000);
        Issue(c, Op.FmaF32, 100_000_000);
        Issue(c, Op.AddI32, 100_000_000);
        Issue(c, Op.Bra, 100_000_000);
        Issue(c, Op.Mov, 100_000_000); // folded by ptxas: issues nothing
        var e = Estimate(c);
        Assert.That(e.Binding.Kind, Is.EqualTo(BoundKind.Issue));
        Assert.That(e.Seconds, Is.EqualTo(3e6 / 4 / 1e9).Within(1e-12));
        Assert.That(e.Bound(BoundKind.Int).Seconds, Is.EqualTo(1e6 * 32 / 64 / 1e9).Within(1e-12));
        Assert.That(e.Bound(BoundKind.Fp32).Seconds, Is.EqualTo(1e6 * 32 / 128 / 1e9).Within(1e-12));
    }

    [Test]
    public void OneWarpIssuesOneInstructionPerClock()
    {
        var g = new LaunchGeometry(1, 32);
        var c = Counters(g);
        Issue(c, Op.Bra, 1_000_000);
        var e = Estimate(c, g);
        Assert.That(e.Binding.Kind, Is.EqualTo(BoundKind.Issue));
        Assert.That(e.Seconds, Is.EqualTo(1e-3).Within(1e-12));
    }

    [Test]
    public void IntegerPipeRunsAtHalfTheIssueRate()
    {
        var c = Counters(Grid1000);
        Issue(c, Op.AddI32, 100_000_000);
        var e = Estimate(c);
        Assert.That(e.Binding.Kind, Is.EqualTo(BoundKind.Int));
        Assert.That(e.Seconds, Is.EqualTo(1e6 * 32 / 64 / 1e9).Within(1e-12));
    }

    [Test]
    public void SfuPipeCostsAWarpInstructionTwoClocksPerPartition()
    {
        var c = Counters(Grid1000);
        Issue(c, Op.Ex2ApproxF32, 100_000_000, lanes: 1); // idle lanes still occupy the pipe
        var e = Estimate(c);
        Assert.That(e.Binding.Kind, Is.EqualTo(BoundKind.Sfu));
        Assert.That(e.Seconds, Is.EqualTo(1e6 * 32 / 16 / 1e9).Within(1e-12));
    }

    [Test]
    public void TensorBoundIsMmaSyncAtHalfTheWgmmaPeak()
    {
        var c = Counters(Grid1000);
        Issue(c, Op.Mma, 100_000_000);
        var e = Estimate(c);
        Assert.That(e.Binding.Kind, Is.EqualTo(BoundKind.Tensor));
        Assert.That(e.Seconds, Is.EqualTo(1e6 * 4096 / 2048 / 1e9).Within(1e-12));
        Assert.That(e.CountedWork.TensorFlops, Is.EqualTo(100_000_000 * 4096.0));
        double peak = 100 * 4096 * 1e9;
        Assert.That(e.FractionOfRoofline, Is.EqualTo(100_000_000 * 4096.0 / peak / e.Seconds).Within(1e-9), "mma.sync reaches half the roofline");
        Assert.That(e.FractionOfRoofline, Is.EqualTo(0.5).Within(1e-9));
    }

    [Test]
    public void LatencyBoundIsMeanChainPerResidentWave()
    {
        var c = Counters(Grid1000);
        c.GlobalLoadRoundTrips = 8000 * 100; // 8000 warps, 100 dependent loads each
        c.MaxWarpRoundTrips = 150;
        c.UniqueLoadSectors = 1000;
        var e = Estimate(c);
        Assert.That(e.Occupancy.CtasPerSm, Is.EqualTo(8));
        Assert.That(e.Binding.Kind, Is.EqualTo(BoundKind.Latency));
        Assert.That(e.Seconds, Is.EqualTo(2 * 100 * 500e-9).Within(1e-15), "10 CTAs on the busiest SM, 8 at a time: 2 waves");
    }

    [Test]
    public void LatencyBoundOfOneLongChainIsTheSlowestWarp()
    {
        var g = new LaunchGeometry(1, 256);
        var c = Counters(g);
        c.GlobalLoadRoundTrips = 1000 + 7;
        c.MaxWarpRoundTrips = 1000;
        var e = Estimate(c, g);
        Assert.That(e.Binding.Kind, Is.EqualTo(BoundKind.Latency));
        Assert.That(e.Seconds, Is.EqualTo(1000 * 500e-9).Within(1e-15));
    }

    [Test]
    public void AnEmptyLaunchTakesTheLaunchFloor()
    {
        var e = Estimate(Counters(Grid1000));
        Assert.That(e.Binding.Kind, Is.EqualTo(BoundKind.Launch));
        Assert.That(e.Seconds, Is.EqualTo(2e-6));
    }

    [Test]
    public void WavesFollowOccupancy()
    {
        var e = Estimate(Counters(Grid1000), r: new KernelResources("k", 64, 0, "test"));
        Assert.That(e.Occupancy.CtasPerSm, Is.EqualTo(4));
        Assert.That(e.Occupancy.Limiter, Is.EqualTo("registers"));
        Assert.That(e.Waves, Is.EqualTo(1000.0 / 400));
    }

    [Test]
    public void CountedRooflineTakesFmaAsTwoFlops()
    {
        var c = Counters(Grid1000);
        Issue(c, Op.FmaF32, 1000, lanes: 16);
        Issue(c, Op.AddF32, 1000, lanes: 32);
        c.UniqueLoadSectors = 10;
        var work = H200Model.CountedWork(c);
        Assert.That(work.CudaCoreFlops, Is.EqualTo((2 * 16_000) + 32_000));
        Assert.That(work.Bytes, Is.EqualTo(320));
    }

    [Test]
    public void OpRooflineUsesPeakBandwidthAndThePeakOfItsUnits()
    {
        var spec = H200Spec.Default;
        var gemv = Roofline.ForOp(bytes: 4.8e9, flops: 1e9, tensorCores: false);
        Assert.That(gemv.Seconds(spec), Is.EqualTo(1e-3).Within(1e-12), "4.8 GB at 4.8 TB/s");
        var gemm = Roofline.ForOp(bytes: 1e6, flops: 989.4e12 * 1e-3, tensorCores: true);
        Assert.That(gemm.Seconds(spec), Is.EqualTo(1e-3).Within(1e-6), "989 TFLOPs dense bf16 peak");
        Assert.That(spec.TensorPeakFlops, Is.EqualTo(989.4e12).Within(0.1e12));
        Assert.That(spec.Fp32PeakFlops, Is.EqualTo(61.8e12).Within(0.1e12));
    }

    [Test]
    public void CountersThatDoNotCoverTheGridAreRejected()
    {
        var c = Counters(new LaunchGeometry(10, 256));
        Assert.That(() => Estimate(c), Throws.TypeOf<H200ModelException>().With.Message.Contains("10 CTAs"));
    }
}
