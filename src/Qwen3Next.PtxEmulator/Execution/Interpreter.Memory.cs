using System.Runtime.CompilerServices;
using System.Numerics;
using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Sanitizer;

namespace Qwen3Next.PtxEmulator.Execution;

/// <summary>
/// ld, st, atom and red (PTX ISA §9.7.9). Every lane's address is resolved to a state space and checked against
/// its allocation or window (global regions, the CTA's shared memory, the thread's local frame, the parameter
/// buffer) before any byte moves; a bad access is a finding and is skipped (a load then yields zero).
/// Generic addresses map to shared and local memory through fixed windows above any host address.
/// </summary>
internal sealed unsafe partial class Interpreter
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MemoryAccess(Warp w, in Instr ins, int pc, uint exec)
    {
        if (exec == 0)
        {
            return;
        }

        int size = ins.Type.Bytes();
        int bytes = size * ins.Vec;
        ulong* r = w.R;
        ulong* address = r + ins.A;
        bool write = ins.Op != Op.Ld;
        bool atomic = ins.Op is Op.Atom or Op.Red;
        if (counters is null && !atomic && ins.Space is MemorySpace.Shared or MemorySpace.Global)
        {
            LoadStoreFast(w, in ins, pc, exec, size, bytes, write);
            return;
        }

        ulong* sectors = stackalloc ulong[32];
        uint* banks = stackalloc uint[32];
        int globalLanes = 0, sharedLanes = 0, localLanes = 0;
        for (uint m = exec; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            ulong addr = address[l] + (ulong)ins.Imm;
            if (ins.Address32)
            {
                addr = (uint)addr;
            }

            byte* p = Resolve(w, ins.Space, addr, bytes, l, pc, write, ins.NonCoherent, atomic, out var space, ins.Strong);
            if (counters is not null)
            {
                switch (space)
                {
                    case MemorySpace.Global:
                        sectors[globalLanes++] = addr;
                        (write ? storeSectors : loadSectors)!.Add(addr);
                        break;
                    case MemorySpace.Shared:
                        banks[sharedLanes++] = (uint)(addr >= KernelDecoder.SharedWindow ? addr - KernelDecoder.SharedWindow : addr);
                        break;
                    case MemorySpace.Local:
                        localLanes++;
                        break;
                }
            }

            if (ins.Op == Op.Ld)
            {
                for (int v = 0; v < ins.Vec; v++)
                {
                    ulong value = p == null ? 0 : Load(p + (v * size), ins.Type);
                    r[lists[ins.List + v] + l] = ins.Uniform ? (ulong)SignExtend(value, size * 8) : value;
                }
            }
            else if (ins.Op == Op.St)
            {
                if (p != null)
                {
                    for (int v = 0; v < ins.Vec; v++)
                    {
                        Store(p + (v * size), r[lists[ins.List + v] + l], size);
                    }
                }
            }
            else
            {
                ulong old = p == null ? 0 : AtomicUpdate(p, in ins, r[ins.B + l], ins.C >= 0 ? r[ins.C + l] : 0);
                if (ins.Op == Op.Atom)
                {
                    r[ins.D + l] = old;
                }
            }
        }

        if (counters is not null)
        {
            CountMemory(w, in ins, bytes, sectors, globalLanes, banks, sharedLanes, localLanes);
        }
    }

    private void CountMemory(Warp w, in Instr ins, int bytes, ulong* addresses, int globalLanes, uint* offsets, int sharedLanes, int localLanes)
    {
        var c = counters!;
        if (globalLanes > 0)
        {
            long sectorCount = DistinctSectors(addresses, globalLanes, bytes);
            if (ins.Op == Op.Ld)
            {
                c.GlobalLoadRequests++;
                c.GlobalLoadSectors += sectorCount;
                c.GlobalLoadBytesRequested += (long)globalLanes * bytes;
                for (int v = 0; v < ins.Vec; v++)
                {
                    w.MarkPending(lists[ins.List + v] >> 5);
                }
            }
            else if (ins.Op == Op.St)
            {
                c.GlobalStoreRequests++;
                c.GlobalStoreSectors += sectorCount;
                c.GlobalStoreBytesRequested += (long)globalLanes * bytes;
            }
            else
            {
                c.AtomicRequests++;
            }
        }

        if (sharedLanes > 0)
        {
            if (ins.Op == Op.St)
            {
                c.SharedStoreRequests++;
            }
            else
            {
                c.SharedLoadRequests++;
            }

            c.SharedWavefronts += SharedWavefronts(offsets, sharedLanes, bytes);
        }

        if (localLanes > 0)
        {
            c.LocalRequests++;
        }
    }

    /// <summary>Distinct 32-byte sectors touched by the lanes of one request (an access never crosses a sector:
    /// accesses are naturally aligned and at most 16 bytes).</summary>
    private static long DistinctSectors(ulong* addresses, int n, int bytes)
    {
        long count = 0;
        for (int i = 0; i < n; i++)
        {
            ulong s = addresses[i] >> 5;
            bool seen = false;
            for (int j = 0; j < i && !seen; j++)
            {
                seen = addresses[j] >> 5 == s;
            }

            if (!seen)
            {
                count++;
            }
        }

        _ = bytes;
        return count;
    }

    /// <summary>
    /// Shared-memory passes for one request: 32 banks of 4 bytes; 64-bit accesses are served a half-warp and 128-bit
    /// accesses a quarter-warp at a time; within a pass, lanes reading the same word share it (broadcast) and
    /// distinct words in one bank serialise.
    /// </summary>
    private static long SharedWavefronts(uint* offsets, int n, int bytes)
    {
        int wordsPerLane = Math.Max(1, bytes / 4);
        int lanesPerPass = 32 / wordsPerLane;
        uint* first = stackalloc uint[32];
        int* distinct = stackalloc int[32];
        uint* words = stackalloc uint[32];
        long total = 0;
        for (int start = 0; start < n; start += lanesPerPass)
        {
            new Span<uint>(first, 32).Fill(uint.MaxValue);
            int worst = 1, count = 0, end = Math.Min(n, start + lanesPerPass);
            for (int i = start; i < end; i++)
            {
                for (int k = 0; k < wordsPerLane; k++)
                {
                    uint word = (offsets[i] >> 2) + (uint)k;
                    int bank = (int)(word & 31);
                    if (first[bank] == uint.MaxValue)
                    {
                        first[bank] = word;
                        distinct[bank] = 1;
                        words[count++] = word;
                    }
                    else if (first[bank] != word && !new ReadOnlySpan<uint>(words, count).Contains(word))
                    {
                        // A second distinct word in a bank: another pass (broadcasts of one word are free).
                        words[count++] = word;
                        worst = Math.Max(worst, ++distinct[bank]);
                    }
                }
            }

            total += worst;
        }

        return total;
    }

    /// <summary>
    /// ld/st in an explicit shared or global space without counters: the same checks as <see cref="Resolve"/>, inlined
    /// (the interpreter spends most of its time here).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void LoadStoreFast(Warp w, in Instr ins, int pc, uint exec, int size, int bytes, bool write)
    {
        ulong* r = w.R;
        ulong* address = r + ins.A;
        ulong offset = (ulong)ins.Imm;
        bool inShared = ins.Space == MemorySpace.Shared;
        bool checks = san.Checks, address32 = ins.Address32;
        int vec = ins.Vec, list = ins.List, first = lists[list];
        bool scalar32 = vec == 1 && size == 4 && !ins.Uniform;
        for (uint m = exec; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            ulong addr = address[l] + offset;
            if (address32)
            {
                addr = (uint)addr;
            }

            byte* p;
            if ((addr & (ulong)(bytes - 1)) != 0)
            {
                p = null;
                san.Report(SanitizerRule.Misaligned, pc, (w.Index * 32) + l, addr, $"a {bytes}-byte {ins.Space} access at 0x{addr:X} is not {bytes}-byte aligned");
            }
            else if (inShared)
            {
                if (!Within(addr, bytes, sharedBytes))
                {
                    p = Resolve(w, ins.Space, addr, bytes, l, pc, write, ins.NonCoherent, atomic: false, out _, ins.Strong);
                }
                else
                {
                    if (checks)
                    {
                        san.Shared(pc, (w.Index * 32) + l, w.SyncEpoch, (uint)addr, bytes, write, atomic: false);
                    }

                    p = shared + addr;
                }
            }
            else
            {
                var region = lastRegion;
                if (region is null || checks || region.InitBits is not null || !region.Contains(addr, bytes))
                {
                    p = Resolve(w, ins.Space, addr, bytes, l, pc, write, ins.NonCoherent, atomic: false, out _, ins.Strong);
                }
                else
                {
                    p = (byte*)addr;
                }
            }

            if (scalar32)
            {
                // The common case: one 32-bit value.
                if (write)
                {
                    if (p != null)
                    {
                        *(uint*)p = (uint)r[first + l];
                    }
                }
                else
                {
                    r[first + l] = p == null ? 0 : *(uint*)p;
                }
            }
            else if (write)
            {
                if (p != null)
                {
                    for (int v = 0; v < vec; v++)
                    {
                        Store(p + (v * size), r[lists[list + v] + l], size);
                    }
                }
            }
            else
            {
                for (int v = 0; v < vec; v++)
                {
                    ulong value = p == null ? 0 : Load(p + (v * size), ins.Type);
                    r[lists[list + v] + l] = ins.Uniform ? (ulong)SignExtend(value, size * 8) : value;
                }
            }
        }
    }

    /// <summary>Host pointer for [addr, addr + bytes) in <paramref name="space"/> (generic resolved), or null after
    /// reporting why the access is invalid.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private byte* Resolve(Warp w, MemorySpace space, ulong addr, int bytes, int lane, int pc, bool write, bool nonCoherent, bool atomic,
        out MemorySpace resolved, bool strong = false)
    {
        int tid = (w.Index * 32) + lane;
        ulong generic = addr;
        if (space == MemorySpace.Generic)
        {
            if (addr >= KernelDecoder.SharedWindow)
            {
                space = MemorySpace.Shared;
                addr -= KernelDecoder.SharedWindow;
            }
            else if (addr >= KernelDecoder.LocalWindow)
            {
                space = MemorySpace.Local;
                addr -= KernelDecoder.LocalWindow;
            }
            else
            {
                space = MemorySpace.Global;
            }
        }

        resolved = space;
        if ((addr & (ulong)(bytes - 1)) != 0)
        {
            san.Report(SanitizerRule.Misaligned, pc, tid, generic, $"a {bytes}-byte {space} access at 0x{addr:X} is not {bytes}-byte aligned");
            return null;
        }

        switch (space)
        {
            case MemorySpace.Shared:
                if (!Within(addr, bytes, sharedBytes))
                {
                    san.Report(SanitizerRule.OutOfBounds, pc, tid, generic,
                        $"shared offset {addr} (+{bytes}) is outside the block's {sharedBytes} bytes ({kernel.StaticSharedBytes} static, {geometry.DynamicSharedBytes} dynamic)");
                    return null;
                }

                if (san.Checks)
                {
                    san.Shared(pc, tid, w.SyncEpoch, (uint)addr, bytes, write, atomic);
                }

                return shared + addr;
            case MemorySpace.Local:
                if (!Within(addr, bytes, localBytes))
                {
                    san.Report(SanitizerRule.OutOfBounds, pc, tid, generic, $"local offset {addr} (+{bytes}) is outside the thread's {localBytes} bytes");
                    return null;
                }

                return local + ((long)tid * localBytes) + (long)addr;
            case MemorySpace.Param:
                if (write || !Within(addr, bytes, paramBytes))
                {
                    san.Report(SanitizerRule.OutOfBounds, pc, tid, addr, write ? "a store to the parameter space"
                        : $"parameter offset {addr} (+{bytes}) is outside the {paramBytes} parameter bytes");
                    return null;
                }

                return param + addr;
            default:
                var region = lastRegion;
                if (region is null || !region.Contains(addr, bytes))
                {
                    region = memory.Find(addr, bytes);
                    if (region is null)
                    {
                        san.Report(SanitizerRule.OutOfBounds, pc, tid, addr,
                            $"{(write ? "write" : "read")} of {bytes} bytes at 0x{addr:X} is outside every allocation{memory.Nearest(addr)}");
                        return null;
                    }

                    lastRegion = region;
                }

                if (san.Checks)
                {
                    san.Global(region, pc, tid, addr, bytes, write, nonCoherent, atomic, strong);
                }

                if (write && region.InitBits is not null)
                {
                    region.MarkInitialised((long)(addr - region.Start), bytes);
                }

                return (byte*)addr;
        }
    }

    /// <summary>[offset, offset + bytes) lies inside a window of <paramref name="size"/> bytes; written so that an offset
    /// near 2^64 (a negative 64-bit address) cannot wrap around the check.</summary>
    private static bool Within(ulong offset, int bytes, int size) => (ulong)bytes <= (ulong)size && offset <= (ulong)(size - bytes);

    private static ulong Load(byte* p, ScalarType t) => t.Bytes() switch
    {
        1 => t.IsSigned() ? (uint)(int)*(sbyte*)p : *p,
        2 => t.IsSigned() ? (uint)(int)*(short*)p : *(ushort*)p,
        4 => *(uint*)p,
        _ => *(ulong*)p,
    };

    private static void Store(byte* p, ulong value, int size)
    {
        switch (size)
        {
            case 1:
                *p = (byte)value;
                break;
            case 2:
                *(ushort*)p = (ushort)value;
                break;
            case 4:
                *(uint*)p = (uint)value;
                break;
            default:
                *(ulong*)p = value;
                break;
        }
    }

    /// <summary>One lane's read-modify-write (lanes are serialised in lane order); returns the old value.</summary>
    private static ulong AtomicUpdate(byte* p, in Instr ins, ulong b, ulong c)
    {
        int size = ins.Type.Bytes();
        ulong old = Load(p, ins.Type);
        ulong mask = size == 8 ? ulong.MaxValue : 0xFFFF_FFFFul;
        bool signed = ins.Type.IsSigned();
        ulong updated = ins.Atom switch
        {
            AtomOp.Add when ins.Type == ScalarType.F32 => BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle((uint)old) + BitConverter.UInt32BitsToSingle((uint)b)),
            AtomOp.Add when ins.Type == ScalarType.F64 => (ulong)BitConverter.DoubleToInt64Bits(BitConverter.UInt64BitsToDouble(old) + BitConverter.UInt64BitsToDouble(b)),
            AtomOp.Add => old + b,
            AtomOp.Min => signed ? (SignExtend(old, size * 8) <= SignExtend(b, size * 8) ? old : b) : ((old & mask) <= (b & mask) ? old : b),
            AtomOp.Max => signed ? (SignExtend(old, size * 8) >= SignExtend(b, size * 8) ? old : b) : ((old & mask) >= (b & mask) ? old : b),
            AtomOp.Exch => b,
            AtomOp.Cas => (old & mask) == (b & mask) ? c : old,
            AtomOp.And => old & b,
            AtomOp.Or => old | b,
            AtomOp.Xor => old ^ b,
            AtomOp.Inc => (old & mask) >= (b & mask) ? 0 : old + 1,
            _ => (old & mask) == 0 || (old & mask) > (b & mask) ? b : old - 1,
        };
        Store(p, updated & mask, size);
        return old & mask;
    }
}
