using System.Runtime.InteropServices;
using NUnit.Framework;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Execution;

namespace Qwen3Next.Tests.Emulator;

/// <summary>Profiling samples of a grid run exactly the chosen CTAs and scale the counters to the whole grid.</summary>
public sealed class CtaSamplingTests
{
    private static readonly LaunchGeometry Grid = new(new Dim3(6, 4, 2), 64);

    private static (int[] Flags, LaunchResult Result) Run(CtaSampling? sampling)
    {
        using var gpu = new EmulatedGpu(new EmulatorOptions { Counters = true, Sampling = sampling });
        int n = (int)Grid.Grid.Count;
        var (result, flags) = MarkKernel.Launch(gpu, Grid);
        var bytes = new byte[n * 4];
        gpu.Memory.Read(flags.Start, bytes, "flags");
        return (MemoryMarshal.Cast<byte, int>(bytes).ToArray(), result);
    }

    [Test]
    public void EveryKthRunsEveryKthCtaInLaunchOrder()
    {
        var (flags, result) = Run(CtaSampling.EveryKth(4));
        Assert.That(flags, Is.EqualTo(Enumerable.Range(0, 48).Select(i => i % 4 == 0 ? 1 : 0)));
        Assert.That((result.Counters!.CtasRun, result.Counters.Ctas, result.Counters.Sampled), Is.EqualTo((12L, 48L, true)));
    }

    /// <summary>A kernel whose CTAs cooperate (the last one finishes the work) runs whole even when others are sampled.</summary>
    [Test]
    public void WholeKernelsAreNeverSampled()
    {
        var (flags, result) = Run(CtaSampling.EveryKth(4) with { WholeKernels = ["mark"] });
        Assert.That(flags, Has.All.EqualTo(1));
        Assert.That((result.Counters!.CtasRun, result.Counters.Sampled), Is.EqualTo((48L, false)));
    }

    [Test]
    public void FirstNPerRowRunsTheFirstCtasOfEveryYzRow()
    {
        var (flags, result) = Run(CtaSampling.FirstNPerRow(2));
        Assert.That(flags, Is.EqualTo(Enumerable.Range(0, 48).Select(i => i % 6 < 2 ? 1 : 0)));
        Assert.That(result.Counters!.CtasRun, Is.EqualTo(16));
    }

    [Test]
    public void SampledCountersScaleToTheWholeGrid()
    {
        var full = Run(null).Result.Counters!;
        var sampled = Run(CtaSampling.EveryKth(4)).Result.Counters!;
        Assert.That(full.Sampled, Is.False);
        Assert.That(sampled.WarpInstructionsByOp, Is.EqualTo(full.WarpInstructionsByOp), "every CTA does the same work");
        Assert.That(sampled.ThreadInstructionsByOp, Is.EqualTo(full.ThreadInstructionsByOp));
        Assert.That((sampled.GlobalStoreRequests, sampled.Ctas, sampled.Warps), Is.EqualTo((full.GlobalStoreRequests, 48L, 96L)));
        Assert.That(sampled.Count(Op.St), Is.EqualTo(48));
    }

    [Test]
    public void ScaledUniqueSectorsNeverExceedTheAllocation()
    {
        // The sample's 12 flags share the 6 sectors of the 192-byte buffer: scaling by 4 would claim 24.
        var full = Run(null).Result.Counters!;
        var sampled = Run(CtaSampling.EveryKth(4)).Result.Counters!;
        Assert.That(full.UniqueStoreSectors, Is.EqualTo(6));
        Assert.That(sampled.UniqueStoreSectors, Is.EqualTo(6));
    }

    [Test]
    public void ASampleMustRunAtLeastOneCta()
    {
        Assert.That(() => CtaSampling.EveryKth(0), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => CtaSampling.FirstNPerRow(-1), Throws.TypeOf<ArgumentOutOfRangeException>());
    }
}
