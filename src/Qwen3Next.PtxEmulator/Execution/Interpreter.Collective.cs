using System.Runtime.CompilerServices;
using System.Numerics;
using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Sanitizer;
using static System.BitConverter;

namespace Qwen3Next.PtxEmulator.Execution;

/// <summary>
/// Warp collectives: <c>shfl.sync</c>, <c>bar.warp.sync</c>, <c>vote.sync</c>, <c>activemask</c> and
/// <c>mma.sync.aligned.m16n8k16</c> (PTX ISA §9.7.8.6, §9.7.13.8, §9.7.12.4, §9.7.13.4.8). A collective runs once
/// every live lane of its member mask has reached it; lanes that arrive first wait (other lanes of the warp run on).
/// </summary>
internal sealed unsafe partial class Interpreter
{
    private bool Collective(Warp w, in Instr ins, int pc, uint mask, uint exec)
    {
        if (exec == 0)
        {
            Advance(w, pc, mask);
            return true;
        }

        int first = BitOperations.TrailingZeroCount(exec);
        uint member = ins.Op switch
        {
            Op.Shfl => (uint)w.R[ins.E + first],
            Op.BarWarpSync => (uint)w.R[ins.A + first],
            Op.Vote => (uint)w.R[ins.B + first],
            Op.Mma => uint.MaxValue,
            _ => exec,
        };

        if (ins.Op != Op.Activemask && !Ready(w, in ins, pc, mask, exec, member))
        {
            return true;
        }

        switch (ins.Op)
        {
            case Op.Shfl:
                Shuffle(w, in ins, pc, exec);
                break;
            case Op.Vote:
                VoteLanes(w, in ins, exec, member);
                break;
            case Op.Mma:
                MmaM16N8K16(w, in ins);
                break;
            case Op.Activemask:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    w.R[ins.D + BitOperations.TrailingZeroCount(m)] = exec;
                }

                break;
        }

        w.SyncEpoch++;
        Advance(w, pc, mask);
        return true;
    }

    /// <summary>True when the collective can run with the lanes of <paramref name="exec"/>; otherwise those lanes wait.</summary>
    private bool Ready(Warp w, in Instr ins, int pc, uint mask, uint exec, uint member)
    {
        int tid = ThreadId(w, exec);
        if (ins.Op == Op.Mma && (exec != uint.MaxValue || w.Live != uint.MaxValue))
        {
            san.Report(SanitizerRule.WarpSyncMismatch, pc, tid, 0,
                $"mma.sync.aligned needs all 32 lanes converged; lanes 0x{exec:X8} executed it (live 0x{w.Live:X8})");
            return true;
        }

        if ((exec & ~member) != 0)
        {
            san.Report(SanitizerRule.WarpSyncMismatch, pc, tid, 0, $"lanes 0x{exec & ~member:X8} execute it but are not in the member mask 0x{member:X8}");
        }

        if ((member & ~w.Live) != 0)
        {
            san.Report(SanitizerRule.WarpSyncMismatch, pc, tid, 0, $"the member mask 0x{member:X8} names lanes that exited (live 0x{w.Live:X8})");
        }

        uint missing = member & w.Live & ~exec;
        if (missing == 0)
        {
            return true;
        }

        if ((missing & mask) != 0)
        {
            // Lanes at this very instruction with a false guard will never join: undefined on hardware.
            san.Report(SanitizerRule.WarpSyncMismatch, pc, tid, 0, $"member lanes 0x{missing & mask:X8} skip it (false guard predicate)");
            return true;
        }

        // Wait for the other member lanes; the rest of the warp keeps running.
        w.Diverge();
        w.CollectiveWait |= exec;
        for (uint m = mask; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            w.Pc[l] = (exec & (1u << l)) != 0 ? pc : pc + 1;
        }

        return false;
    }

    /// <summary>shfl.sync (PTX ISA §9.7.8.6): c packs the clamp (bits 0–4) and segment mask (bits 8–12).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Shuffle(Warp w, in Instr ins, int pc, uint exec)
    {
        ulong* d = w.R + ins.D, a = w.R + ins.A, b = w.R + ins.B, c = w.R + ins.C;
        Span<ulong> source = stackalloc ulong[32];
        for (int l = 0; l < 32; l++)
        {
            source[l] = a[l];
        }

        for (uint m = exec; m != 0; m &= m - 1)
        {
            int lane = BitOperations.TrailingZeroCount(m);
            int bval = (int)(b[lane] & 0x1F);
            int cval = (int)(c[lane] & 0x1F);
            int segmask = (int)((c[lane] >> 8) & 0x1F);
            int maxLane = (lane & segmask) | (cval & ~segmask);
            int minLane = lane & segmask;
            int j;
            bool valid;
            switch (ins.Shfl)
            {
                case ShflMode.Up:
                    j = lane - bval;
                    valid = j >= maxLane;
                    break;
                case ShflMode.Down:
                    j = lane + bval;
                    valid = j <= maxLane;
                    break;
                case ShflMode.Bfly:
                    j = lane ^ bval;
                    valid = j <= maxLane;
                    break;
                default:
                    j = minLane | (bval & ~segmask);
                    valid = j <= maxLane;
                    break;
            }

            if (!valid)
            {
                j = lane;
            }

            if ((exec & (1u << j)) == 0)
            {
                san.Report(SanitizerRule.WarpSyncMismatch, pc, (w.Index * 32) + lane, 0,
                    $"lane {lane} reads lane {j}, which does not take part in the shuffle (its value is undefined)");
                j = lane;
            }

            d[lane] = (uint)source[j];
            if (ins.D2 >= 0)
            {
                w.R[ins.D2 + lane] = valid ? 1ul : 0ul;
            }
        }
    }

    private static void VoteLanes(Warp w, in Instr ins, uint exec, uint member)
    {
        uint ballot = 0;
        for (uint m = exec; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            if (((w.R[ins.A + l] & 1) != 0) ^ ins.Uniform)
            {
                ballot |= 1u << l;
            }
        }

        uint active = exec & member;
        ulong result = ins.Vote switch
        {
            VoteMode.All => (ballot & active) == active ? 1ul : 0ul,
            VoteMode.Any => (ballot & active) != 0 ? 1ul : 0ul,
            VoteMode.Uni => (ballot & active) == 0 || (ballot & active) == active ? 1ul : 0ul,
            _ => ballot & active,
        };
        for (uint m = exec; m != 0; m &= m - 1)
        {
            w.R[ins.D + BitOperations.TrailingZeroCount(m)] = result;
        }
    }

    /// <summary>
    /// mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.f32 (PTX ISA §9.7.13.4.8, fragment layouts for m16n8k16):
    /// with g = lane / 4 and t = lane % 4, A register i holds row g (i = 0, 2) or g + 8 (i = 1, 3) and columns
    /// 2t, 2t+1 (+8 for i ≥ 2); B register i holds rows 2t, 2t+1 (+8 for i = 1) of column g; C/D element i is row
    /// g (+8 for i ≥ 2), column 2t + (i &amp; 1). Products of 16-bit inputs are exact in f32; the 16 products and C are
    /// summed in f64 and rounded once (an ideal tensor core; real ones may differ in the last bits).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MmaM16N8K16(Warp w, in Instr ins)
    {
        ulong* r = w.R;
        int list = ins.List;
        float* a = stackalloc float[16 * 16];
        float* bt = stackalloc float[8 * 16];
        double* c = stackalloc double[16 * 8];
        bool bf16 = ins.Type == ScalarType.BF16;
        int a0 = lists[list + 4], a1 = lists[list + 5], a2 = lists[list + 6], a3 = lists[list + 7];
        int b0 = lists[list + 8], b1 = lists[list + 9];
        for (int lane = 0; lane < 32; lane++)
        {
            int g = lane >> 2, t = lane & 3, col = 2 * t;
            Unpack(a + (g * 16) + col, (uint)r[a0 + lane], bf16);
            Unpack(a + ((g + 8) * 16) + col, (uint)r[a1 + lane], bf16);
            Unpack(a + (g * 16) + col + 8, (uint)r[a2 + lane], bf16);
            Unpack(a + ((g + 8) * 16) + col + 8, (uint)r[a3 + lane], bf16);

            // B is stored transposed (column g, k contiguous) so each output is one contiguous dot product.
            Unpack(bt + (g * 16) + col, (uint)r[b0 + lane], bf16);
            Unpack(bt + (g * 16) + col + 8, (uint)r[b1 + lane], bf16);
            for (int i = 0; i < 4; i++)
            {
                int row = g + (i >= 2 ? 8 : 0), n = col + (i & 1);
                c[(row * 8) + n] = UInt32BitsToSingle((uint)r[lists[list + 10 + i] + lane]);
            }
        }

        for (int row = 0; row < 16; row++)
        {
            float* ar = a + (row * 16);
            for (int n = 0; n < 8; n++)
            {
                // Products of 16-bit floats are exact in f32; the sum is exact enough in f64.
                float* bn = bt + (n * 16);
                double sum = c[(row * 8) + n];
                for (int k = 0; k < 16; k++)
                {
                    sum += ar[k] * bn[k];
                }

                c[(row * 8) + n] = sum;
            }
        }

        for (int lane = 0; lane < 32; lane++)
        {
            int g = lane >> 2, t = lane & 3;
            for (int i = 0; i < 4; i++)
            {
                int row = g + (i >= 2 ? 8 : 0), n = (2 * t) + (i & 1);
                r[lists[list + i] + lane] = SingleToUInt32Bits((float)c[(row * 8) + n]);
            }
        }
    }

    /// <summary>Two packed 16-bit floats (lower address in the low half) into consecutive floats.</summary>
    private static void Unpack(float* destination, uint bits, bool bf16)
    {
        destination[0] = Half16(bits & 0xFFFF, bf16);
        destination[1] = Half16(bits >> 16, bf16);
    }

    private static float Half16(uint bits, bool bf16) => bf16 ? UInt32BitsToSingle(bits << 16) : (float)UInt16BitsToHalf((ushort)bits);

    /// <summary>Counts the instruction, and a global-load round trip when it reads a register a pending load writes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Count(Warp w, in Instr ins, uint exec)
    {
        var c = counters!;
        c.WarpInstructionsByOp[(int)ins.Op]++;
        c.ThreadInstructionsByOp[(int)ins.Op] += BitOperations.PopCount(exec);
        if (!w.AnyPending)
        {
            return;
        }

        var pending = w.Pending;
        bool waits = (ins.A >= 0 && pending[ins.A >> 5] != 0) || (ins.B >= 0 && pending[ins.B >> 5] != 0)
            || (ins.C >= 0 && pending[ins.C >> 5] != 0) || (ins.E >= 0 && pending[ins.E >> 5] != 0)
            || (ins.Guard >= 0 && pending[ins.Guard >> 5] != 0);
        if (!waits && ins.List >= 0 && ins.Op is Op.St or Op.Mma)
        {
            int from = ins.Op == Op.Mma ? ins.List + 4 : ins.List, to = ins.Op == Op.Mma ? ins.List + 14 : ins.List + ins.Vec;
            for (int i = from; i < to && !waits; i++)
            {
                waits = pending[lists[i] >> 5] != 0;
            }
        }

        if (waits)
        {
            w.RoundTrips += 1;
            w.ClearPending();
        }
    }
}
