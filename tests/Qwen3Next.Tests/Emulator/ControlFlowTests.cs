using NUnit.Framework;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// Divergence and reconvergence: nested if/else, loops whose trip count differs per lane followed by a full-warp
/// shuffle (which needs every lane back together), early exit of some threads followed by a CTA barrier,
/// guarded instructions, and the thread/block index registers of a 3-D launch.
/// </summary>
[TestFixture]
public sealed class ControlFlowTests
{
    private static uint[] RunPerThread(string ptx, int threads, out LaunchResult result, int blocks = 1)
    {
        using var gpu = new EmulatedGpu(new EmulatorOptions { Counters = true });
        var output = PtxTestKernels.Upload<uint>(gpu, Enumerable.Repeat(0xFFFF_FFFFu, threads * blocks).ToArray(), "out");
        result = PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(blocks, threads), output);
        return PtxTestKernels.Download<uint>(gpu, output, threads * blocks);
    }

    private const string Store = """
            ld.param.u64 %rd0, [out];
            mul.wide.u32 %rd1, %tid, 4;
            add.s64 %rd0, %rd0, %rd1;
            st.global.u32 [%rd0], %v;
        """;

    [Test]
    public void NestedIfElseReconvergesForTheCodeAfterIt()
    {
        string ptx = PtxTestKernels.Header + $$"""
            .visible .entry nested(.param .u64 out)
            {
                .reg .pred %p;
                .reg .b32 %tid, %v, %m;
                .reg .b64 %rd<2>;
                mov.u32 %tid, %tid.x;
                and.b32 %m, %tid, 1;
                setp.eq.u32 %p, %m, 0;
                @%p bra EVEN;
                and.b32 %m, %tid, 3;
                setp.eq.u32 %p, %m, 1;
                @!%p bra ODD_THREE;
                add.s32 %v, %tid, 100;
                bra.uni ODD_DONE;
            ODD_THREE:
                add.s32 %v, %tid, 200;
            ODD_DONE:
                bra.uni JOIN;
            EVEN:
                rem.u32 %m, %tid, 3;
                setp.ne.u32 %p, %m, 0;
                @%p bra EVEN_OTHER;
                add.s32 %v, %tid, 300;
                bra.uni JOIN;
            EVEN_OTHER:
                add.s32 %v, %tid, 400;
            JOIN:
                shl.b32 %v, %v, 1;
                add.s32 %v, %v, 1;
            {{Store}}
                ret;
            }
            """;
        var values = RunPerThread(ptx, 64, out var result);
        for (uint t = 0; t < 64; t++)
        {
            uint v = t % 2 == 1 ? (t % 4 == 1 ? t + 100 : t + 200) : (t % 3 == 0 ? t + 300 : t + 400);
            Assert.That(values[t], Is.EqualTo((v * 2) + 1), $"thread {t}");
        }

        Assert.That(result.Counters!.Count(PtxEmulator.Decoding.Op.Shl32), Is.EqualTo(2), "the join code runs once per warp: the branches reconverged");
    }

    [Test]
    public void LoopsWithPerLaneTripCountsReconvergeBeforeAShuffle()
    {
        // Thread t sums 0..t-1, then reads lane (t+1) % 32's sum through a full-mask shuffle: the shuffle can only run
        // once every lane has left its loop.
        string ptx = PtxTestKernels.Header + $$"""
            .visible .entry loops(.param .u64 out)
            {
                .reg .pred %more;
                .reg .b32 %tid, %i, %sum, %v, %lane;
                .reg .b64 %rd<2>;
                mov.u32 %tid, %tid.x;
                mov.u32 %i, 0;
                mov.u32 %sum, 0;
                setp.eq.u32 %more, %tid, 0;
                @%more bra DONE;
            LOOP:
                add.s32 %sum, %sum, %i;
                add.s32 %i, %i, 1;
                setp.lt.u32 %more, %i, %tid;
                @%more bra LOOP;
            DONE:
                mov.u32 %lane, %laneid;
                add.s32 %lane, %lane, 1;
                shfl.sync.idx.b32 %v, %sum, %lane, 31, -1;
            {{Store}}
                ret;
            }
            """;
        var values = RunPerThread(ptx, 64, out var result);
        Assert.That(result.Findings, Is.Empty);
        for (int t = 0; t < 64; t++)
        {
            int source = (t / 32 * 32) + ((t % 32) + 1) % 32;
            Assert.That(values[t], Is.EqualTo((uint)(source * (source - 1) / 2)), $"thread {t} reads thread {source}'s sum");
        }
    }

    [Test]
    public void ExitedThreadsCountAsArrivedAtABarrier()
    {
        // Threads 40.. exit; the rest exchange values through shared memory across bar.sync (mid-warp exit included).
        string ptx = PtxTestKernels.Header + $$"""
            .visible .entry early(.param .u64 out)
            {
                .shared .align 4 .b32 board[64];
                .reg .pred %gone;
                .reg .b32 %tid, %v, %addr, %other;
                .reg .b64 %rd<2>;
                mov.u32 %tid, %tid.x;
                setp.ge.u32 %gone, %tid, 40;
                @%gone exit;
                mov.u32 %addr, board;
                shl.b32 %v, %tid, 2;
                add.s32 %addr, %addr, %v;
                mul.lo.s32 %v, %tid, %tid;
                st.shared.u32 [%addr], %v;
                bar.sync 0;
                sub.s32 %other, 39, %tid;
                shl.b32 %other, %other, 2;
                mov.u32 %addr, board;
                add.s32 %addr, %addr, %other;
                ld.shared.u32 %v, [%addr];
                bar.sync 0;
            {{Store}}
                ret;
            }
            """;
        var values = RunPerThread(ptx, 64, out var result);
        Assert.That(result.Findings, Is.Empty);
        for (uint t = 0; t < 64; t++)
        {
            Assert.That(values[t], Is.EqualTo(t < 40 ? (39 - t) * (39 - t) : 0xFFFF_FFFFu), $"thread {t}");
        }
    }

    [Test]
    public void GuardedInstructionsOnlyRunWhereTheirPredicateHolds()
    {
        string ptx = PtxTestKernels.Header + $$"""
            .visible .entry guarded(.param .u64 out)
            {
                .reg .pred %p, %q;
                .reg .b32 %tid, %v, %m;
                .reg .b64 %rd<2>;
                mov.u32 %tid, %tid.x;
                mov.u32 %v, 7;
                and.b32 %m, %tid, 3;
                setp.eq.u32 %p, %m, 0;
                setp.gt.u32 %q, %tid, 20;
                @%p add.s32 %v, %v, 1000;
                @!%q mul.lo.s32 %v, %v, 2;
                xor.pred %p, %p, %q;
                @%p add.s32 %v, %v, 1;
            {{Store}}
                ret;
            }
            """;
        var values = RunPerThread(ptx, 32, out _);
        for (uint t = 0; t < 32; t++)
        {
            bool p = t % 4 == 0, q = t > 20;
            uint v = 7;
            v = p ? v + 1000 : v;
            v = !q ? v * 2 : v;
            v = p ^ q ? v + 1 : v;
            Assert.That(values[t], Is.EqualTo(v), $"thread {t}");
        }
    }

    [Test]
    public void BreakOutOfALoopAtADifferentIterationPerLane()
    {
        // Each lane walks i = 0, 1, … and breaks at the first i with i*i > tid, or at 6; after the loop all lanes add 1.
        string ptx = PtxTestKernels.Header + $$"""
            .visible .entry breaks(.param .u64 out)
            {
                .reg .pred %stop;
                .reg .b32 %tid, %v, %sq;
                .reg .b64 %rd<2>;
                mov.u32 %tid, %tid.x;
                mov.u32 %v, 0;
            LOOP:
                mul.lo.s32 %sq, %v, %v;
                setp.gt.u32 %stop, %sq, %tid;
                @%stop bra AFTER;
                setp.eq.u32 %stop, %v, 6;
                @%stop bra AFTER;
                add.s32 %v, %v, 1;
                bra.uni LOOP;
            AFTER:
                add.s32 %v, %v, 1;
            {{Store}}
                ret;
            }
            """;
        var values = RunPerThread(ptx, 64, out var result);
        Assert.That(result.Findings, Is.Empty);
        for (uint t = 0; t < 64; t++)
        {
            uint i = 0;
            while (i * i <= t && i != 6)
            {
                i++;
            }

            Assert.That(values[t], Is.EqualTo(i + 1), $"thread {t}");
        }
    }

    [Test]
    public void BlockTreeReductionWithBarriersInALoopIsCorrectAndClean()
    {
        // The classic shared-memory reduction: a halving stride loop with a divergent add and a barrier per step.
        string ptx = PtxTestKernels.Header + """
            .visible .entry reduce(.param .u64 in, .param .u64 out)
            {
                .shared .align 4 .b32 partial[256];
                .reg .pred %active, %more;
                .reg .b32 %tid, %stride, %addr, %other, %a, %b;
                .reg .b64 %rd<4>;
                mov.u32 %tid, %tid.x;
                ld.param.u64 %rd0, [in];
                mul.wide.u32 %rd1, %tid, 4;
                add.s64 %rd0, %rd0, %rd1;
                ld.global.u32 %a, [%rd0];
                shl.b32 %addr, %tid, 2;
                st.shared.u32 [%addr], %a;
                bar.sync 0;
                mov.u32 %stride, 128;
            STEP:
                setp.lt.u32 %active, %tid, %stride;
                @!%active bra SKIP;
                add.s32 %other, %tid, %stride;
                shl.b32 %other, %other, 2;
                ld.shared.u32 %a, [%addr];
                ld.shared.u32 %b, [%other];
                add.s32 %a, %a, %b;
                st.shared.u32 [%addr], %a;
            SKIP:
                bar.sync 0;
                shr.u32 %stride, %stride, 1;
                setp.ne.u32 %more, %stride, 0;
                @%more bra STEP;
                setp.eq.u32 %active, %tid, 0;
                @!%active bra DONE;
                ld.shared.u32 %a, [0];
                ld.param.u64 %rd2, [out];
                st.global.u32 [%rd2], %a;
            DONE:
                ret;
            }
            """;
        using var gpu = new EmulatedGpu(new EmulatorOptions { Counters = true });
        uint[] input = Enumerable.Range(0, 256).Select(i => (uint)((i * 37) % 101)).ToArray();
        var output = gpu.Memory.Allocate(4, "out");
        var result = PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 256), PtxTestKernels.Upload<uint>(gpu, input, "in"), output);
        Assert.That(result.Findings, Is.Empty);
        Assert.That(PtxTestKernels.Download<uint>(gpu, output, 1)[0], Is.EqualTo((uint)input.Sum(v => (long)v)));
        Assert.That(result.Counters!.Barriers, Is.EqualTo(1 + 8), "one barrier release per step, plus the first");
    }

    [Test]
    public void ThreeDimensionalIndices()
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry indices(.param .u64 out)
            {
                .reg .b32 %r<12>, %linear;
                .reg .b64 %rd<2>;
                mov.u32 %r0, %tid.x;
                mov.u32 %r1, %tid.y;
                mov.u32 %r2, %tid.z;
                mov.u32 %r3, %ntid.x;
                mov.u32 %r4, %ntid.y;
                mov.u32 %r5, %ctaid.x;
                mov.u32 %r6, %ctaid.y;
                mov.u32 %r7, %nctaid.x;
                mov.u32 %r8, %nctaid.y;
                mov.u32 %r9, %ntid.z;
                mad.lo.s32 %linear, %r2, %r4, %r1;
                mad.lo.s32 %linear, %linear, %r3, %r0;
                mad.lo.s32 %r10, %r6, %r7, %r5;
                mul.lo.s32 %r11, %r3, %r4;
                mul.lo.s32 %r11, %r11, %r9;
                mad.lo.s32 %linear, %r10, %r11, %linear;
                ld.param.u64 %rd0, [out];
                mul.wide.u32 %rd1, %linear, 16;
                add.s64 %rd0, %rd0, %rd1;
                st.global.v4.u32 [%rd0], {%r0, %r1, %r2, %r10};
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        const int perBlock = 8 * 4 * 2, blocks = 2 * 3;
        var output = gpu.Memory.Allocate(perBlock * blocks * 16, "out");
        PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(new Dim3(2, 3), new Dim3(8, 4, 2)), output);
        var values = PtxTestKernels.Download<uint>(gpu, output, perBlock * blocks * 4);
        for (int b = 0; b < blocks; b++)
        {
            for (int z = 0; z < 2; z++)
            {
                for (int y = 0; y < 4; y++)
                {
                    for (int x = 0; x < 8; x++)
                    {
                        int linear = (b * perBlock) + (((z * 4) + y) * 8) + x;
                        Assert.That(values[(linear * 4)..((linear * 4) + 4)], Is.EqualTo(new[] { (uint)x, (uint)y, (uint)z, (uint)b }), $"block {b} thread ({x},{y},{z})");
                    }
                }
            }
        }
    }
}
