using System.Runtime.InteropServices;
using NUnit.Framework;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Execution;

namespace Qwen3Next.Tests.Emulator;

/// <summary>Profiling samples of a grid run exactly the chosen CTAs and scale the counters to the whole grid.</summary>
public sealed class CtaSamplingTests
{
    /// <summary>nvcc 11.8 -arch=sm_90 output of: thread 0 of each CTA sets flags[linear block index] = 1.</summary>
    private const string MarkPtx = """
        .version 7.8
        .target sm_90
        .address_size 64

        .visible .entry mark(
            .param .u64 mark_param_0
        )
        {
            .reg .pred 	%p<2>;
            .reg .b32 	%r<10>;
            .reg .b64 	%rd<5>;

            ld.param.u64 	%rd1, [mark_param_0];
            mov.u32 	%r1, %tid.x;
            setp.ne.s32 	%p1, %r1, 0;
            @%p1 bra 	$L__BB0_2;

            cvta.to.global.u64 	%rd2, %rd1;
            mov.u32 	%r2, %nctaid.y;
            mov.u32 	%r3, %ctaid.z;
            mov.u32 	%r4, %ctaid.y;
            mad.lo.s32 	%r5, %r2, %r3, %r4;
            mov.u32 	%r6, %nctaid.x;
            mov.u32 	%r7, %ctaid.x;
            mad.lo.s32 	%r8, %r5, %r6, %r7;
            mul.wide.u32 	%rd3, %r8, 4;
            add.s64 	%rd4, %rd2, %rd3;
            mov.u32 	%r9, 1;
            st.global.u32 	[%rd4], %r9;

        $L__BB0_2:
            ret;

        }
        """;

    private static readonly LaunchGeometry Grid = new(new Dim3(6, 4, 2), 64);

    private static (int[] Flags, LaunchResult Result) Run(CtaSampling? sampling)
    {
        using var gpu = new EmulatedGpu(new EmulatorOptions { Sampling = sampling });
        var kernel = gpu.LoadModule(MarkPtx, "mark.ptx").GetKernel("mark");
        int n = (int)Grid.Grid.Count;
        var flags = gpu.Memory.Allocate(n * 4, "flags");
        gpu.Memory.Write(flags.Start, new byte[n * 4], "flags");
        var result = gpu.Launch(kernel, Grid, new KernelParameterPacker(kernel).Set(0, (long)flags.Start).Bytes);
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
    public void ASampleMustRunAtLeastOneCta()
    {
        Assert.That(() => CtaSampling.EveryKth(0), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => CtaSampling.FirstNPerRow(-1), Throws.TypeOf<ArgumentOutOfRangeException>());
    }
}
