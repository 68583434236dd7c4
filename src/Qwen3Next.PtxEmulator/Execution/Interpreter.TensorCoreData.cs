using System.Runtime.CompilerServices;
using System.Numerics;
using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Sanitizer;

namespace Qwen3Next.PtxEmulator.Execution;

/// <summary>
/// ldmatrix (PTX ISA §9.7.13.4.15) and cp.async with its groups (§9.7.9.25, §9.7.9.26, §9.7.9.27): the shared-memory
/// data movement of tensor-core kernels.
/// </summary>
internal sealed unsafe partial class Interpreter
{
    /// <summary>
    /// ldmatrix.sync.aligned.m8n8.xN{.trans}.shared.b16: lanes 8i … 8i+7 give the 16-byte row addresses of matrix i
    /// (i &lt; N). Without .trans lane l receives in register i row l/4, elements 2(l%4) and 2(l%4)+1 of matrix i;
    /// with .trans it receives column l/4, elements 2(l%4) and 2(l%4)+1 (the transposed matrix). The lower-numbered
    /// element goes in the low half.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void LoadMatrices(Warp w, in Instr ins, int pc)
    {
        int count = ins.Vec;
        ushort* m = stackalloc ushort[4 * 64];
        uint* offsets = stackalloc uint[32];
        int rows = 0;
        for (int lane = 0; lane < count * 8; lane++)
        {
            ulong addr = w.R[ins.A + lane] + (ulong)ins.Imm;
            if (ins.Address32)
            {
                addr = (uint)addr;
            }

            byte* p = Resolve(w, MemorySpace.Shared, addr, 16, lane, pc, write: false, nonCoherent: false, atomic: false, out _);
            for (int e = 0; e < 8; e++)
            {
                m[(lane * 8) + e] = p == null ? (ushort)0 : ((ushort*)p)[e];
            }

            offsets[rows++] = (uint)addr;
        }

        for (int i = 0; i < count; i++)
        {
            ushort* matrix = m + (i * 64);
            ulong* d = w.R + lists[ins.List + i];
            for (int lane = 0; lane < 32; lane++)
            {
                int g = lane >> 2, t = lane & 3;
                d[lane] = ins.Transpose
                    ? matrix[(2 * t * 8) + g] | ((uint)matrix[(((2 * t) + 1) * 8) + g] << 16)
                    : matrix[(g * 8) + (2 * t)] | ((uint)matrix[(g * 8) + (2 * t) + 1] << 16);
            }
        }

        if (counters is not null)
        {
            counters.SharedLoadRequests++;
            counters.SharedWavefronts += SharedWavefronts(offsets, rows, 16);
        }
    }

    private void AsyncCopy(Warp w, in Instr ins, int pc, uint exec)
    {
        if (exec == 0)
        {
            return;
        }

        switch (ins.Op)
        {
            case Op.CpAsync:
                IssueCopies(w, in ins, pc, exec);
                break;
            case Op.CpAsyncCommit:
                foreach (ref var copy in System.Runtime.InteropServices.CollectionsMarshal.AsSpan(w.Copies))
                {
                    if (copy.Group < 0 && (exec & (1u << copy.Lane)) != 0)
                    {
                        copy.Group = w.CommittedGroups[copy.Lane];
                    }
                }

                for (uint m = exec; m != 0; m &= m - 1)
                {
                    w.CommittedGroups[BitOperations.TrailingZeroCount(m)]++;
                }

                break;
            default:
                CompleteCopies(w, ins.Imm, exec);
                break;
        }
    }

    /// <summary>cp.async: reads (and checks) the source now, checks the destination as a write now (the copy may land
    /// any time before the wait, so nobody else may touch it in this barrier interval) and leaves it undefined until
    /// a wait completes the copy.</summary>
    private void IssueCopies(Warp w, in Instr ins, int pc, uint exec)
    {
        int bytes = ins.Vec;
        ulong* sectors = stackalloc ulong[32];
        uint* banks = stackalloc uint[32];
        int globalLanes = 0, sharedLanes = 0;
        byte* staged = stackalloc byte[16];
        for (uint m = exec; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            ulong dst = w.R[ins.A + l] + (ulong)ins.Imm;
            if (ins.Address32)
            {
                dst = (uint)dst;
            }

            ulong src = w.R[ins.B + l] + (ulong)ins.Imm2;
            int sourceBytes = ins.C >= 0 ? (int)Math.Min((uint)w.R[ins.C + l], int.MaxValue) : bytes;
            if (sourceBytes > bytes)
            {
                san.Report(SanitizerRule.OutOfBounds, pc, (w.Index * 32) + l, src, $"cp.async src-size {sourceBytes} exceeds its cp-size {bytes}");
                sourceBytes = bytes;
            }

            var copy = new PendingCopy { Lane = l, Pc = pc, Bytes = bytes, SourceBytes = sourceBytes, Group = -1, IssuedAtRoundTrip = w.RoundTrips };
            if (sourceBytes > 0 && (src & (ulong)(bytes - 1)) != 0)
            {
                san.Report(SanitizerRule.Misaligned, pc, (w.Index * 32) + l, src, $"cp.async source 0x{src:X} is not {bytes}-byte aligned");
                sourceBytes = copy.SourceBytes = 0;
            }

            if (sourceBytes > 0)
            {
                byte* p = Resolve(w, MemorySpace.Global, src, sourceBytes, l, pc, write: false, nonCoherent: false, atomic: false, out _);
                new Span<byte>(staged, 16).Clear();
                if (p != null)
                {
                    new ReadOnlySpan<byte>(p, sourceBytes).CopyTo(new Span<byte>(staged, 16));
                }

                copy.Low = *(ulong*)staged;
                copy.High = *(ulong*)(staged + 8);
                sectors[globalLanes++] = src;
                loadSectors?.Add(src);
            }

            byte* q = Resolve(w, MemorySpace.Shared, dst, bytes, l, pc, write: true, nonCoherent: false, atomic: false, out _);
            if (q == null)
            {
                continue;
            }

            copy.SharedOffset = (uint)dst;
            san.SharedPendingAsync((uint)dst, bytes);
            banks[sharedLanes++] = (uint)dst;
            w.Copies.Add(copy);
        }

        if (counters is not null)
        {
            if (globalLanes > 0)
            {
                counters.GlobalLoadRequests++;
                counters.GlobalLoadSectors += DistinctSectors(sectors, globalLanes, bytes);
                counters.GlobalLoadBytesRequested += (long)globalLanes * bytes;
            }

            if (sharedLanes > 0)
            {
                counters.SharedStoreRequests++;
                counters.SharedWavefronts += SharedWavefronts(banks, sharedLanes, bytes);
            }
        }
    }

    /// <summary>
    /// cp.async.wait_group N (<paramref name="keep"/> = N) completes every committed group of each executing lane but
    /// its N most recent; wait_all (<paramref name="keep"/> = -1) completes every copy. Waiting for a copy issued since
    /// the warp's last round trip is a round trip (the loads then in flight are delivered with it).
    /// </summary>
    private void CompleteCopies(Warp w, long keep, uint exec)
    {
        var copies = w.Copies;
        bool waited = false;
        int kept = 0;
        byte* staged = stackalloc byte[16];
        for (int i = 0; i < copies.Count; i++)
        {
            var copy = copies[i];
            bool mine = (exec & (1u << copy.Lane)) != 0;
            bool done = mine && (keep < 0 || (copy.Group >= 0 && copy.Group < w.CommittedGroups[copy.Lane] - keep));
            if (!done)
            {
                copies[kept++] = copy;
                continue;
            }

            waited |= copy.IssuedAtRoundTrip == w.RoundTrips;
            int tid = (w.Index * 32) + copy.Lane;
            if (san.Checks)
            {
                san.Shared(copy.Pc, tid, w.SyncEpoch, copy.SharedOffset, copy.Bytes, write: true, atomic: false);
            }

            *(ulong*)staged = copy.Low;
            *(ulong*)(staged + 8) = copy.High;
            new ReadOnlySpan<byte>(staged, copy.Bytes).CopyTo(new Span<byte>(shared + copy.SharedOffset, copy.Bytes));
        }

        copies.RemoveRange(kept, copies.Count - kept);
        if (waited && counters is not null)
        {
            w.RoundTrips++;
            w.ClearPending();
        }
    }
}
