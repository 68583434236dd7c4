using NUnit.Framework;
using System.Runtime.InteropServices;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Execution;
using Qwen3Next.PtxEmulator.Memory;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// Warp-level collectives: <c>shfl.sync</c> in its four modes with clamp and segment masks and its predicate output
/// (expected values from the PTX ISA §9.7.8.6 pseudo-code, written out here), <c>vote.sync</c>, <c>activemask</c>,
/// <c>bar.warp.sync</c>, and the lane special registers.
/// </summary>
[TestFixture]
public sealed class WarpCollectiveTests
{
    private const uint Sentinel = 0xDEAD_BEEF;

    private static string ShuffleKernel(string mode) => PtxTestKernels.Header + $$"""
        .visible .entry shuffle(.param .u64 out, .param .u64 valid, .param .u32 b, .param .u32 c, .param .u32 mask)
        {
            .reg .pred %p, %skip;
            .reg .b32 %lane, %value, %r, %b, %c, %mask, %flag;
            .reg .b64 %rd<4>;
            mov.u32 %lane, %laneid;
            mad.lo.s32 %value, %lane, 7, 100;
            ld.param.u32 %b, [b];
            ld.param.u32 %c, [c];
            ld.param.u32 %mask, [mask];
            shr.u32 %flag, %mask, %lane;
            and.b32 %flag, %flag, 1;
            setp.eq.u32 %skip, %flag, 0;
            @%skip bra DONE;
            shfl.sync.{{mode}}.b32 %r|%p, %value, %b, %c, %mask;
            selp.u32 %flag, 1, 0, %p;
            ld.param.u64 %rd0, [out];
            ld.param.u64 %rd1, [valid];
            mul.wide.u32 %rd2, %lane, 4;
            add.s64 %rd0, %rd0, %rd2;
            add.s64 %rd1, %rd1, %rd2;
            st.global.u32 [%rd0], %r;
            st.global.u32 [%rd1], %flag;
        DONE:
            ret;
        }
        """;

    /// <summary>shfl.sync for one lane, transcribed from the ISA's pseudo-code.</summary>
    private static (uint Value, bool Valid) Expected(string mode, int lane, uint b, uint c)
    {
        int bval = (int)(b & 0x1F), cval = (int)(c & 0x1F), segmask = (int)((c >> 8) & 0x1F);
        int maxLane = (lane & segmask) | (cval & ~segmask);
        int minLane = lane & segmask;
        int j;
        bool pval;
        switch (mode)
        {
            case "up":
                j = lane - bval;
                pval = j >= maxLane;
                break;
            case "down":
                j = lane + bval;
                pval = j <= maxLane;
                break;
            case "bfly":
                j = lane ^ bval;
                pval = j <= maxLane;
                break;
            default:
                j = minLane | (bval & ~segmask);
                pval = j <= maxLane;
                break;
        }

        if (!pval)
        {
            j = lane;
        }

        return ((uint)((j * 7) + 100), pval);
    }

    private static (uint[] Values, uint[] Valid) Shuffle(EmulatedGpu gpu, DecodedKernelHandle kernel, uint b, uint c, uint mask)
    {
        var sentinel = Enumerable.Repeat(Sentinel, 32).ToArray();
        gpu.Memory.Write(kernel.Out.Start, MemoryMarshal.AsBytes(sentinel.AsSpan()), "out");
        gpu.Memory.Write(kernel.Valid.Start, MemoryMarshal.AsBytes(sentinel.AsSpan()), "valid");
        var packer = new KernelParameterPacker(kernel.Kernel).Set(0, kernel.Out.Start, 8).Set(1, kernel.Valid.Start, 8).Set(2, b, 4).Set(3, c, 4).Set(4, mask, 4);
        gpu.Launch(kernel.Kernel, new LaunchGeometry(1, 32), packer.Bytes);
        return (PtxTestKernels.Download<uint>(gpu, kernel.Out, 32), PtxTestKernels.Download<uint>(gpu, kernel.Valid, 32));
    }

    private sealed record DecodedKernelHandle(DecodedKernel Kernel, MemoryRegion Out, MemoryRegion Valid);

    [TestCase("up")]
    [TestCase("down")]
    [TestCase("bfly")]
    [TestCase("idx")]
    public void ShuffleFollowsTheIsaPseudoCodeForEveryClampAndSegment(string mode)
    {
        using var gpu = new EmulatedGpu();
        var handle = new DecodedKernelHandle(gpu.LoadModule(ShuffleKernel(mode), $"shfl_{mode}.ptx").GetKernel("shuffle"),
            gpu.Memory.Allocate(128, "out"), gpu.Memory.Allocate(128, "valid"));
        uint[] bs = [0, 1, 2, 3, 5, 8, 16, 31, 33];
        uint[] cs = [0x0000, 0x001F, 0x000A, 0x1000, 0x101F, 0x1800, 0x181F, 0x1C1F, 0x1F1F, 0x0F1F, 0x1E00, 0x0307];
        var failures = new List<string>();
        foreach (uint b in bs)
        {
            foreach (uint c in cs)
            {
                var (values, valid) = Shuffle(gpu, handle, b, c, uint.MaxValue);
                for (int lane = 0; lane < 32; lane++)
                {
                    var (value, ok) = Expected(mode, lane, b, c);
                    if (values[lane] != value || valid[lane] != (ok ? 1u : 0u))
                    {
                        failures.Add($"shfl.sync.{mode} b={b} c=0x{c:X4} lane {lane}: expected {value}/{ok}, got {values[lane]}/{valid[lane]}");
                    }
                }
            }
        }

        Assert.That(failures, Is.Empty, string.Join(Environment.NewLine, failures.Take(12)));
    }

    [TestCase("bfly", 4u, 0x1Fu)]
    [TestCase("down", 3u, 0x0Fu)]
    [TestCase("up", 2u, 0x00u)]
    [TestCase("idx", 5u, 0x1Fu)]
    public void ShuffleAmongHalfAWarp(string mode, uint b, uint c)
    {
        // Lanes 16-31 branch around the shuffle; lanes 0-15 name only themselves and read only among themselves.
        using var gpu = new EmulatedGpu();
        var handle = new DecodedKernelHandle(gpu.LoadModule(ShuffleKernel(mode), $"shfl_{mode}.ptx").GetKernel("shuffle"),
            gpu.Memory.Allocate(128, "out"), gpu.Memory.Allocate(128, "valid"));
        var (values, valid) = Shuffle(gpu, handle, b, c, 0x0000_FFFF);
        for (int lane = 0; lane < 32; lane++)
        {
            var (value, ok) = lane < 16 ? Expected(mode, lane, b, c) : (Sentinel, false);
            Assert.That(values[lane], Is.EqualTo(value), $"lane {lane} value");
            Assert.That(valid[lane], Is.EqualTo(lane < 16 ? (ok ? 1u : 0u) : Sentinel), $"lane {lane} predicate");
        }
    }

    [Test]
    public void VoteAllAnyUniAndBallot()
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry vote(.param .u64 flags, .param .u64 out, .param .u32 mask)
            {
                .reg .pred %p, %q, %skip;
                .reg .b32 %lane, %flag, %mask, %ballot, %all, %any, %uni, %inverse;
                .reg .b64 %rd<4>;
                mov.u32 %lane, %laneid;
                ld.param.u32 %mask, [mask];
                shr.u32 %flag, %mask, %lane;
                and.b32 %flag, %flag, 1;
                setp.eq.u32 %skip, %flag, 0;
                @%skip bra DONE;
                ld.param.u64 %rd0, [flags];
                mul.wide.u32 %rd2, %lane, 4;
                add.s64 %rd0, %rd0, %rd2;
                ld.global.u32 %flag, [%rd0];
                setp.ne.u32 %p, %flag, 0;
                vote.sync.ballot.b32 %ballot, %p, %mask;
                vote.sync.all.pred %q, %p, %mask;
                selp.u32 %all, 1, 0, %q;
                vote.sync.any.pred %q, %p, %mask;
                selp.u32 %any, 1, 0, %q;
                vote.sync.uni.pred %q, %p, %mask;
                selp.u32 %uni, 1, 0, %q;
                vote.sync.ballot.b32 %inverse, !%p, %mask;
                ld.param.u64 %rd1, [out];
                mul.wide.u32 %rd2, %lane, 32;
                add.s64 %rd1, %rd1, %rd2;
                st.global.v4.u32 [%rd1], {%ballot, %all, %any, %uni};
                st.global.u32 [%rd1+16], %inverse;
            DONE:
                ret;
            }
            """;
        var rng = new Random(97);
        foreach (uint mask in new uint[] { uint.MaxValue, 0x0F0F_0F0F, 0x0000_0001 })
        {
            foreach (int pattern in new[] { 0, 1, 2, 3 })
            {
                uint[] flags = Enumerable.Range(0, 32).Select(l => pattern switch { 0 => 0u, 1 => 1u, 2 => (uint)(l % 3 == 0 ? 1 : 0), _ => (uint)rng.Next(2) }).ToArray();
                using var gpu = new EmulatedGpu();
                var input = PtxTestKernels.Upload<uint>(gpu, flags, "flags");
                var output = PtxTestKernels.Upload<uint>(gpu, new uint[32 * 8], "out");
                PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 32), input, output, mask);
                var result = PtxTestKernels.Download<uint>(gpu, output, 32 * 8);

                uint ballot = 0;
                for (int l = 0; l < 32; l++)
                {
                    ballot |= flags[l] != 0 && (mask & (1u << l)) != 0 ? 1u << l : 0;
                }

                for (int l = 0; l < 32; l++)
                {
                    uint[] expected = (mask & (1u << l)) == 0 ? new uint[5]
                        : [ballot, ballot == mask ? 1u : 0u, ballot != 0 ? 1u : 0u, ballot == 0 || ballot == mask ? 1u : 0u, mask & ~ballot];
                    Assert.That(result.Skip(l * 8).Take(5), Is.EqualTo(expected), $"mask 0x{mask:X8} pattern {pattern} lane {l}: ballot, all, any, uni, ballot of !p");
                }
            }
        }
    }

    [Test]
    public void ActivemaskNamesTheLanesExecutingTogether()
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry active(.param .u64 out)
            {
                .reg .pred %p, %gone;
                .reg .b32 %lane, %rem, %mask;
                .reg .b64 %rd<4>;
                mov.u32 %lane, %laneid;
                setp.eq.u32 %gone, %lane, 31;
                @%gone exit;
                rem.u32 %rem, %lane, 3;
                setp.eq.u32 %p, %rem, 0;
                @%p bra THIRDS;
                activemask.b32 %mask;
                bra.uni STORE;
            THIRDS:
                activemask.b32 %mask;
            STORE:
                ld.param.u64 %rd0, [out];
                mul.wide.u32 %rd1, %lane, 4;
                add.s64 %rd0, %rd0, %rd1;
                st.global.u32 [%rd0], %mask;
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var output = PtxTestKernels.Upload<uint>(gpu, new uint[32], "out");
        PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 32), output);
        var result = PtxTestKernels.Download<uint>(gpu, output, 32);
        uint thirds = 0, others = 0;
        for (int l = 0; l < 31; l++)
        {
            if (l % 3 == 0)
            {
                thirds |= 1u << l;
            }
            else
            {
                others |= 1u << l;
            }
        }

        for (int l = 0; l < 31; l++)
        {
            Assert.That(result[l], Is.EqualTo(l % 3 == 0 ? thirds : others), $"lane {l}");
        }

        Assert.That(result[31], Is.Zero, "lane 31 exited before");
    }

    [Test]
    public void BarWarpSyncOrdersSharedMemoryAcrossDivergentBranches()
    {
        // Even and odd lanes write shared memory on different paths; after bar.warp.sync every lane reads its
        // neighbour's word. Correct values and no race finding: the warp barrier orders the accesses.
        string ptx = PtxTestKernels.Header + """
            .visible .entry exchange(.param .u64 out)
            {
                .shared .align 4 .b32 words[32];
                .reg .pred %odd;
                .reg .b32 %lane, %bit, %value, %neighbour, %addr;
                .reg .b64 %rd<4>;
                mov.u32 %lane, %laneid;
                mov.u32 %addr, words;
                shl.b32 %bit, %lane, 2;
                add.s32 %addr, %addr, %bit;
                and.b32 %bit, %lane, 1;
                setp.ne.u32 %odd, %bit, 0;
                @%odd bra ODD;
                mul.lo.s32 %value, %lane, 10;
                st.shared.u32 [%addr], %value;
                bra.uni JOIN;
            ODD:
                mul.lo.s32 %value, %lane, 1000;
                st.shared.u32 [%addr], %value;
            JOIN:
                bar.warp.sync -1;
                xor.b32 %bit, %lane, 1;
                shl.b32 %bit, %bit, 2;
                mov.u32 %addr, words;
                add.s32 %addr, %addr, %bit;
                ld.shared.u32 %neighbour, [%addr];
                ld.param.u64 %rd0, [out];
                mul.wide.u32 %rd1, %lane, 4;
                add.s64 %rd0, %rd0, %rd1;
                st.global.u32 [%rd0], %neighbour;
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var output = PtxTestKernels.Upload<uint>(gpu, new uint[32], "out");
        var result = PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 32), output);
        var values = PtxTestKernels.Download<uint>(gpu, output, 32);
        Assert.That(result.Findings, Is.Empty);
        for (int l = 0; l < 32; l++)
        {
            int n = l ^ 1;
            Assert.That(values[l], Is.EqualTo((uint)(n % 2 == 0 ? n * 10 : n * 1000)), $"lane {l}");
        }
    }

    [Test]
    public void LaneSpecialRegisters()
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry lanes(.param .u64 out)
            {
                .reg .b32 %r<8>;
                .reg .b64 %rd<4>;
                mov.u32 %r0, %laneid;
                mov.u32 %r1, %warpid;
                mov.u32 %r2, %lanemask_eq;
                mov.u32 %r3, %lanemask_lt;
                mov.u32 %r4, %lanemask_le;
                mov.u32 %r5, %lanemask_gt;
                mov.u32 %r6, %lanemask_ge;
                mov.u32 %r7, %tid.x;
                ld.param.u64 %rd0, [out];
                mul.wide.u32 %rd1, %r7, 32;
                add.s64 %rd0, %rd0, %rd1;
                st.global.v4.u32 [%rd0], {%r0, %r1, %r2, %r3};
                st.global.v4.u32 [%rd0+16], {%r4, %r5, %r6, %r7};
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var output = PtxTestKernels.Upload<uint>(gpu, new uint[64 * 8], "out");
        PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 64), output);
        var values = PtxTestKernels.Download<uint>(gpu, output, 64 * 8);
        for (int t = 0; t < 64; t++)
        {
            int l = t % 32;
            uint eq = 1u << l;
            uint lt = eq - 1;
            uint[] expected = [(uint)l, (uint)(t / 32), eq, lt, lt | eq, ~(lt | eq), ~lt, (uint)t];
            Assert.That(values.Skip(t * 8).Take(8), Is.EqualTo(expected), $"thread {t}: laneid, warpid, lanemask eq/lt/le/gt/ge, tid");
        }
    }
}
