using System.Numerics;
using System.Runtime.CompilerServices;
using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Sanitizer;
using static System.BitConverter;

namespace Qwen3Next.PtxEmulator.Execution;

/// <summary>
/// Asynchronous instructions. <c>cp.async</c> (PTX ISA §9.7.9.25): the source is read when the copy is issued, the
/// bytes land in shared memory when the issuing thread's <c>cp.async.wait_group</c> completes its group — so a
/// premature read sees the old contents, and the sanitizer reports any access to the destination in between.
/// <c>wgmma</c> (§9.7.15): each warp of the warpgroup computes its 16 rows of D when it issues the instruction, reading
/// A and B through their matrix descriptors (§9.7.15.5.1); the shared words it read and the accumulators it wrote stay
/// "in flight" until the <c>wgmma.wait_group</c> that completes the group, and the sanitizer reports writes to those
/// words, uses of those registers, and reads of generic-proxy writes not followed by <c>fence.proxy.async</c>.
/// </summary>
internal sealed unsafe partial class Interpreter
{
    /// <summary>One thread's cp.async: up to 16 bytes read at issue (zero-filled past src-size), its commit group
    /// (-1 until committed) and its destination.</summary>
    private struct PendingCopy
    {
        public uint Dst;
        public int Bytes;
        public int Group;
        public int Pc;
        public ulong Lo;
        public ulong Hi;
    }

    private List<PendingCopy>[]? copies;
    private int[]? committedCopyGroups;

    private void InitAsync()
    {
        if (!kernel.Code.Any(i => i.Op >= Op.CpAsync))
        {
            return;
        }

        copies = new List<PendingCopy>[threadsPerCta];
        for (int t = 0; t < threadsPerCta; t++)
        {
            copies[t] = [];
        }

        committedCopyGroups = new int[threadsPerCta];
        san.EnableAsync(sharedBytes, threadsPerCta);
    }

    /// <summary>A new CTA: nothing is in flight (a thread that exited with copies pending left them unobservable).</summary>
    private void ResetAsync()
    {
        if (copies is null)
        {
            return;
        }

        for (int t = 0; t < threadsPerCta; t++)
        {
            foreach (var c in copies[t])
            {
                san.ClearCopy(t, c.Dst, c.Bytes);
            }

            copies[t].Clear();
        }

        Array.Clear(committedCopyGroups!);
        foreach (var w in warps)
        {
            w.ResetAsync();
        }
    }

    private bool Async(Warp w, in Instr ins, int pc, uint mask, uint exec)
    {
        switch (ins.Op)
        {
            case Op.CpAsync:
                CopyAsync(w, in ins, pc, exec);
                break;
            case Op.CpAsyncCommit:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    CommitCopies(ThreadId(w, 1u << BitOperations.TrailingZeroCount(m)));
                }

                break;
            case Op.CpAsyncWait:
                WaitCopies(w, in ins, pc, exec);
                break;
            case Op.FenceProxyAsync:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    san.ProxyFence(ThreadId(w, 1u << BitOperations.TrailingZeroCount(m)));
                }

                break;
            default:
                return Warpgroup(w, in ins, pc, mask, exec);
        }

        Advance(w, pc, mask);
        return true;
    }

    private void CopyAsync(Warp w, in Instr ins, int pc, uint exec)
    {
        int size = ins.Size;
        ulong* r = w.R;
        uint* banks = stackalloc uint[32];
        ulong* sectors = stackalloc ulong[32];
        byte* data = stackalloc byte[16];
        int lanes = 0;
        for (uint m = exec; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m), tid = (w.Index * 32) + l;
            ulong dst = r[ins.A + l] + (ulong)ins.Imm;
            if (ins.Address32)
            {
                dst = (uint)dst;
            }

            ulong src = r[ins.B + l] + (ulong)ins.Imm2;
            int srcBytes = ins.E >= 0 ? (int)Math.Min((uint)r[ins.E + l], (uint)size) : size;
            if ((dst & (ulong)(size - 1)) != 0 || (src & (ulong)(size - 1)) != 0)
            {
                san.Report(SanitizerRule.Misaligned, pc, tid, (dst & (ulong)(size - 1)) != 0 ? dst : src,
                    $"cp.async of {size} bytes needs {size}-byte aligned addresses (shared 0x{dst:X}, global 0x{src:X})");
                continue;
            }

            if (!Within(dst, size, sharedBytes))
            {
                san.Report(SanitizerRule.OutOfBounds, pc, tid, KernelDecoder.SharedWindow + dst,
                    $"cp.async destination: shared offset {dst} (+{size}) is outside the block's {sharedBytes} bytes");
                continue;
            }

            new Span<byte>(data, 16).Clear();
            if (srcBytes > 0)
            {
                var region = memory.Find(src, srcBytes);
                if (region is null)
                {
                    san.Report(SanitizerRule.OutOfBounds, pc, tid, src,
                        $"cp.async reads {srcBytes} bytes at 0x{src:X}, outside every allocation{memory.Nearest(src)}");
                    continue;
                }

                if (san.Checks)
                {
                    san.Global(region, pc, tid, src, srcBytes, write: false, nonCoherent: false, atomic: false);
                }

                new ReadOnlySpan<byte>((void*)src, srcBytes).CopyTo(new Span<byte>(data, 16));
                if (counters is not null)
                {
                    sectors[lanes] = src;
                    for (ulong s = src & ~31ul; s < src + (ulong)srcBytes; s += 32)
                    {
                        loadSectors!.Add(s);
                    }
                }
            }

            if (counters is not null)
            {
                banks[lanes++] = (uint)dst;
            }

            san.CopyIssued(pc, tid, (uint)dst, size);
            copies![tid].Add(new PendingCopy { Dst = (uint)dst, Bytes = size, Group = -1, Pc = pc, Lo = *(ulong*)data, Hi = *(ulong*)(data + 8) });
        }

        if (counters is not null && lanes > 0)
        {
            // One global load request of the lanes' sectors and one shared store of their destinations.
            counters.GlobalLoadRequests++;
            counters.GlobalLoadSectors += DistinctSectors(sectors, lanes, size);
            counters.GlobalLoadBytesRequested += (long)lanes * size;
            counters.SharedStoreRequests++;
            counters.SharedWavefronts += SharedWavefronts(banks, lanes, size);
        }
    }

    private void CommitCopies(int tid)
    {
        var list = copies![tid];
        int group = committedCopyGroups![tid]++;
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i].Group < 0)
            {
                var c = list[i];
                c.Group = group;
                list[i] = c;
            }
        }
    }

    /// <summary>cp.async.wait_group N: each lane's groups older than its newest N complete (their bytes land).</summary>
    private void WaitCopies(Warp w, in Instr ins, int pc, uint exec)
    {
        int keep = (int)Math.Max(0, ins.Imm);
        bool waited = false;
        ulong* bytes = stackalloc ulong[2];
        for (uint m = exec; m != 0; m &= m - 1)
        {
            int tid = ThreadId(w, 1u << BitOperations.TrailingZeroCount(m));
            if (ins.Imm < 0)
            {
                CommitCopies(tid); // wait_all
            }

            var list = copies![tid];
            int limit = committedCopyGroups![tid] - keep;
            int kept = 0;
            for (int i = 0; i < list.Count; i++)
            {
                var c = list[i];
                if (c.Group >= 0 && c.Group < limit)
                {
                    (bytes[0], bytes[1]) = (c.Lo, c.Hi);
                    new ReadOnlySpan<byte>(bytes, c.Bytes).CopyTo(new Span<byte>(shared + c.Dst, c.Bytes));

                    san.CopyCompleted(pc, tid, w.SyncEpoch, c.Dst, c.Bytes);
                    waited = true;
                }
                else
                {
                    list[kept++] = c;
                }
            }

            list.RemoveRange(kept, list.Count - kept);
        }

        if (waited)
        {
            // The copies of the newest `keep` groups stay in flight while these complete: keep + 1 groups share the
            // memory latency (a loop that waits for the group it issued keep iterations ago hides all but 1/(keep+1)).
            w.RoundTrips += 1.0 / (keep + 1);
        }
    }

    /// <summary>wgmma.fence / commit_group / wait_group / mma_async: warpgroup-wide, every lane of the warp converged.</summary>
    private bool Warpgroup(Warp w, in Instr ins, int pc, uint mask, uint exec)
    {
        int tid = ThreadId(w, exec == 0 ? 1u : exec);
        if (exec != uint.MaxValue || w.Live != uint.MaxValue)
        {
            san.Report(SanitizerRule.WarpSyncMismatch, pc, tid, 0,
                $"wgmma instructions are .sync.aligned over the warpgroup: every lane must execute them; lanes 0x{exec:X8} did (live 0x{w.Live:X8})");
            Advance(w, pc, mask);
            return true;
        }

        int firstWarp = w.Index / 4 * 4;
        if (firstWarp + 4 > warps.Length || (threadsPerCta & 127) != 0)
        {
            san.Report(SanitizerRule.WarpSyncMismatch, pc, tid, 0,
                $"warp {w.Index} is not part of a whole warpgroup (4 warps, 128 threads): the block has {threadsPerCta} threads");
            Advance(w, pc, mask);
            return true;
        }

        switch (ins.Op)
        {
            case Op.WgmmaFence:
                w.WgmmaFenced = true;
                break;
            case Op.WgmmaCommit:
                w.CommittedGroups.Enqueue(w.OpenGroup);
                w.OpenGroup = new WgmmaGroup();
                w.WgmmaFenced = false;
                break;
            case Op.WgmmaWait:
                while (w.CommittedGroups.Count > ins.Imm)
                {
                    Release(w, w.CommittedGroups.Dequeue());
                }

                break;
            default:
                if (!w.WgmmaFenced)
                {
                    san.Report(SanitizerRule.AsyncHazard, pc, tid, 0,
                        "wgmma.mma_async without a wgmma.fence since the last wgmma.commit_group (its accumulators and shared operands are unordered)");
                }

                WarpgroupMma(w, in ins, pc);
                break;
        }

        w.SyncEpoch++;
        Advance(w, pc, mask);
        return true;
    }

    private void Release(Warp w, WgmmaGroup group)
    {
        foreach (int word in group.Words)
        {
            san.WgmmaReleased(word);
        }

        foreach (int reg in group.Registers)
        {
            if (--w.AsyncRegisters[reg] == 0)
            {
                w.AsyncRegistersInFlight--;
            }
        }
    }

    /// <summary>
    /// This warp's 16 rows of D = A·B (+ D when scale-d): A is 64×16 and B is N×16, both K-major in shared memory
    /// behind their descriptors; warp w of the warpgroup owns rows 16w..16w+15 and its D register 4j + e holds row
    /// 16w + lane/4 (+8 for e ≥ 2), column 8j + 2(lane%4) + (e &amp; 1) (PTX ISA §9.7.15.5.2, D fragments). Products
    /// of 16-bit floats are exact; each output's 16 products and D are summed in f64 and rounded once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WarpgroupMma(Warp w, in Instr ins, int pc)
    {
        int n = ins.Size, tid = w.Index * 32, rowBase = (w.Index & 3) * 16;
        ulong* r = w.R;
        ulong descA = r[ins.A], descB = r[ins.B];
        bool scaleD = ((r[ins.C] & 1) != 0) ^ ins.Uniform;
        for (int l = 1; l < 32; l++)
        {
            if (r[ins.A + l] != descA || r[ins.B + l] != descB || (((r[ins.C + l] & 1) != 0) ^ ins.Uniform) != scaleD)
            {
                san.Report(SanitizerRule.WarpSyncMismatch, pc, tid + l, 0, "the wgmma descriptors and scale-d must be the same in every lane of the warpgroup");
                return;
            }
        }

        var a = Operand(descA, pc, tid, "A");
        var b = Operand(descB, pc, tid, "B");
        if (a is null || b is null)
        {
            return;
        }

        bool bf16 = ins.Type == ScalarType.BF16;
        float* av = stackalloc float[16 * 16];
        float* bp = stackalloc float[256 * 16];
        var group = w.OpenGroup;
        for (int i = 0; i < 16; i++)
        {
            for (int k = 0; k < 16; k += 2)
            {
                if (!ReadPair(a.Value, rowBase + i, k, pc, tid, w, group, bf16, av + (i * 16) + k, ins.NegateA))
                {
                    return;
                }
            }
        }

        for (int j = 0; j < n; j++)
        {
            for (int k = 0; k < 16; k += 2)
            {
                if (!ReadPair(b.Value, j, k, pc, tid, w, group, bf16, bp + (j * 16) + k, ins.NegateB))
                {
                    return;
                }
            }
        }

        int list = ins.List;
        for (int lane = 0; lane < 32; lane++)
        {
            int g = lane >> 2, t = lane & 3;
            for (int jj = 0; jj < n / 8; jj++)
            {
                for (int e = 0; e < 4; e++)
                {
                    int row = g + (e >= 2 ? 8 : 0), col = (jj * 8) + (2 * t) + (e & 1);
                    int reg = lists[list + (4 * jj) + e];
                    double sum = scaleD ? UInt32BitsToSingle((uint)r[reg + lane]) : 0.0;
                    float* ar = av + (row * 16), bc = bp + (col * 16);
                    for (int k = 0; k < 16; k++)
                    {
                        sum += ar[k] * bc[k];
                    }

                    r[reg + lane] = SingleToUInt32Bits((float)sum);
                }
            }
        }

        for (int i = 0; i < n / 2; i++)
        {
            int reg = lists[ins.List + i] >> 5;
            if (w.AsyncRegisters[reg]++ == 0)
            {
                w.AsyncRegistersInFlight++;
            }

            group.Registers.Add(reg);
        }

        if (counters is not null)
        {
            // A warp's share of one warpgroup instruction: its 16 rows of A and a quarter of B, 128-byte wavefronts.
            counters.WgmmaFlops += 2.0 * 16 * n * 16;
            long wavefronts = ((16 * 32) + (n * 32 / 4) + 127) / 128;
            counters.SharedLoadRequests += wavefronts;
            counters.SharedWavefronts += wavefronts;
        }
    }

    /// <summary>A decoded matrix descriptor (PTX ISA §9.7.15.5.1): start address, leading and stride byte offsets
    /// (each encoded >> 4 in 14 bits), swizzle mode (bits 62–63: 0 none, 1 128-byte, 2 64-byte, 3 32-byte).</summary>
    private readonly record struct MatrixDescriptor(uint Start, uint Leading, uint Stride, int Swizzle);

    private MatrixDescriptor? Operand(ulong desc, int pc, int tid, string which)
    {
        int baseOffset = (int)((desc >> 49) & 7);
        if (baseOffset != 0)
        {
            san.Report(SanitizerRule.Trap, pc, tid, 0, $"wgmma {which} descriptor has matrix base offset {baseOffset}: not implemented by the emulator (align the swizzle pattern instead)");
            return null;
        }

        return new MatrixDescriptor((uint)(desc & 0x3FFF) << 4, (uint)((desc >> 16) & 0x3FFF) << 4, (uint)((desc >> 32) & 0x3FFF) << 4, (int)(desc >> 62));
    }

    /// <summary>
    /// Shared byte address of element (row, k) of a K-major operand with 16-bit elements. Without swizzling the matrix
    /// is made of 8×16-byte core matrices (8 rows of 8 elements, 128 contiguous bytes): the stride byte offset separates
    /// core matrices along M/N, the leading byte offset along K. With a W-byte swizzle (W = 128, 64, 32) each row of an
    /// 8-row group is W contiguous bytes (k16 = 32 bytes never leaves it), the groups are the stride byte offset apart,
    /// and the hardware permutes 16-byte chunks by address: bits [4, 4 + log2(W/16)) ^= bits [7, 7 + log2(W/16)).
    /// </summary>
    private static uint ElementAddress(in MatrixDescriptor d, int row, int k)
    {
        uint group = (uint)(row >> 3), r = (uint)(row & 7), bytes = (uint)k * 2;
        if (d.Swizzle == 0)
        {
            return d.Start + (group * d.Stride) + ((bytes >> 4) * d.Leading) + (r * 16) + (bytes & 15);
        }

        uint width = d.Swizzle switch { 1 => 128u, 2 => 64u, _ => 32u };
        uint mask = (width >> 4) - 1;
        uint address = d.Start + (group * d.Stride) + (r * width) + bytes;
        return address ^ (((address >> 7) & mask) << 4);
    }

    /// <summary>Reads elements (row, k) and (row, k + 1) (one 4-byte word) for a wgmma; false when the launch faulted.</summary>
    private bool ReadPair(in MatrixDescriptor d, int row, int k, int pc, int tid, Warp w, WgmmaGroup group, bool bf16, float* into, bool negate)
    {
        uint address = ElementAddress(d, row, k);
        if ((address & 3) != 0 || !Within(address, 4, sharedBytes))
        {
            san.Report(SanitizerRule.OutOfBounds, pc, tid, KernelDecoder.SharedWindow + address,
                $"wgmma operand element ({row}, {k}) at shared offset {address} is outside the block's {sharedBytes} bytes (or misaligned)");
            return false;
        }

        san.WgmmaRead(pc, tid, w.SyncEpoch, address);
        group.Words.Add((int)(address >> 2));
        uint bits = *(uint*)(shared + address);
        float sign = negate ? -1f : 1f;
        into[0] = sign * Half16(bits & 0xFFFF, bf16);
        into[1] = sign * Half16(bits >> 16, bf16);
        return true;
    }

    /// <summary>The sanitizer's check that no instruction touches a wgmma accumulator still in flight.</summary>
    private void CheckAsyncRegisters(Warp w, in Instr ins, int pc)
    {
        if (ins.Op is Op.Wgmma or Op.WgmmaFence or Op.WgmmaCommit or Op.WgmmaWait)
        {
            return;
        }

        var flags = w.AsyncRegisters;
        int tid = w.Index * 32;
        void Check(int offset, string what)
        {
            if (offset >= 0 && flags[offset >> 5] != 0)
            {
                san.AsyncRegister(pc, tid, offset >> 5, what);
            }
        }

        Check(ins.D, "destination");
        Check(ins.D2, "destination");
        Check(ins.A, "source");
        Check(ins.B, "source");
        Check(ins.C, "source");
        Check(ins.E, "source");
        Check(ins.Guard, "guard");
        int listLength = ins.Op switch
        {
            Op.Ld or Op.St => ins.Vec,
            Op.Mma => 14,
            _ => 0,
        };
        for (int i = 0; i < listLength && ins.List >= 0; i++)
        {
            Check(lists[ins.List + i], ins.Op == Op.Ld ? "destination" : "source");
        }
    }
}
