using System.Runtime.CompilerServices;
using System.Numerics;
using System.Runtime.InteropServices;
using Qwen3Next.PtxEmulator.Counters;
using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Memory;
using Qwen3Next.PtxEmulator.Sanitizer;

namespace Qwen3Next.PtxEmulator.Execution;

/// <summary>
/// Runs one launch: CTAs one after another in (z, y, x) order (deterministic), the warps of a CTA round-robin, each
/// until it blocks at a barrier or a warp collective, exits, or uses its time slice. A CTA barrier releases when
/// every live thread waits at it (exited threads count as arrived, as on hardware). Handlers live in the other
/// parts of this class, one file per instruction family.
/// </summary>
internal sealed unsafe partial class Interpreter : IDisposable
{
    private readonly DecodedKernel kernel;
    private readonly Instr[] code;
    private readonly int[] lists;
    private readonly DeviceMemory memory;
    private readonly EmulatorOptions options;
    private readonly LaunchSanitizer san;
    private readonly LaunchCounters? counters;
    private readonly LaunchGeometry geometry;
    private readonly int threadsPerCta;
    private readonly int sharedBytes;
    private readonly int localBytes;
    private readonly int paramBytes;
    private readonly byte* shared;
    private readonly byte* local;
    private readonly byte* param;
    private readonly Warp[] warps;
    private readonly SectorSet? loadSectors;
    private readonly SectorSet? storeSectors;
    private MemoryRegion? lastRegion;
    private long warpInstructions;
    private (int X, int Y, int Z) cta;

    public Interpreter(DecodedKernel kernel, LaunchGeometry geometry, ReadOnlySpan<byte> parameters, DeviceMemory memory,
        EmulatorOptions options, long launchEpoch, SharedShadow sharedShadow)
    {
        geometry.Validate(kernel);
        if (parameters.Length != kernel.ParameterBytes)
        {
            throw new PtxLaunchException($"{kernel.Name}: {parameters.Length} parameter bytes given, the .entry declares {kernel.ParameterBytes}");
        }

        this.kernel = kernel;
        code = kernel.Code;
        lists = kernel.RegisterLists;
        this.memory = memory;
        this.options = options;
        this.geometry = geometry;
        threadsPerCta = (int)geometry.Block.Count;
        sharedBytes = kernel.DynamicSharedOffset + geometry.DynamicSharedBytes;
        localBytes = kernel.LocalBytes;
        paramBytes = parameters.Length;
        shared = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(16, sharedBytes), 128);
        local = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(16, localBytes * threadsPerCta), 16);
        param = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(16, paramBytes), 16);
        parameters.CopyTo(new Span<byte>(param, paramBytes));
        san = new LaunchSanitizer(kernel, options.Sanitize, options.MaxFindings, launchEpoch, sharedBytes, sharedShadow)
        {
            BlockDim = (geometry.Block.X, geometry.Block.Y, geometry.Block.Z),
        };
        if (options.Counters)
        {
            counters = new LaunchCounters();
            loadSectors = new SectorSet();
            storeSectors = new SectorSet();
        }

        warps = new Warp[(threadsPerCta + 31) / 32];
        for (int i = 0; i < warps.Length; i++)
        {
            warps[i] = new Warp(i, kernel.RegisterCount);
            foreach (var (reg, bits) in kernel.Constants)
            {
                new Span<ulong>(warps[i].R + (reg * 32), 32).Fill(bits);
            }
        }

        InitAsync();
    }

    public LaunchCounters? Counters => counters;

    public IReadOnlyList<SanitizerFinding> Findings => san.Findings;

    /// <summary>Runs every CTA; findings are returned, the caller decides whether they fail the launch.</summary>
    public void Run()
    {
        var grid = geometry.Grid;
        var sampling = options.Sampling is { } s && !s.WholeKernels.Contains(kernel.Name) ? s : null;
        bool completed = false;
        try
        {
            long linear = 0;
            for (int z = 0; z < grid.Z; z++)
            {
                for (int y = 0; y < grid.Y; y++)
                {
                    for (int x = 0; x < grid.X; x++, linear++)
                    {
                        if (sampling is not null && !sampling.Includes(x, linear, grid.Count))
                        {
                            continue;
                        }

                        if (!RunCta(x, y, z, linear))
                        {
                            return;
                        }
                    }
                }
            }

            completed = true;
        }
        catch (FindingLimitReached)
        {
            // The launch stops; its findings are reported by the caller.
        }
        finally
        {
            if (counters is not null)
            {
                counters.UniqueLoadSectors = loadSectors!.Count;
                counters.UniqueStoreSectors = storeSectors!.Count;
                counters.Warps = counters.Ctas * warps.Length;
                counters.CtasRun = counters.Ctas;
                if (completed && sampling is not null && counters.Ctas > 0)
                {
                    double factor = (double)grid.Count / counters.Ctas;
                    counters.ScaleToGrid(grid.Count, warps.Length, ScaledUniqueSectors(loadSectors!, factor), ScaledUniqueSectors(storeSectors!, factor));
                }
            }
        }
    }

    /// <summary>
    /// Distinct sectors the whole grid would touch, from a sample's: each allocation's sampled count scaled up, but
    /// never past the allocation's size (data every CTA shares, such as activations, is counted once).
    /// </summary>
    private long ScaledUniqueSectors(SectorSet sampled, double factor)
    {
        var perRegion = new Dictionary<MemoryRegion, long>();
        long unplaced = 0;
        foreach (ulong sector in sampled.Sectors())
        {
            var region = memory.Find(sector, 1);
            if (region is null)
            {
                unplaced++;
            }
            else
            {
                perRegion[region] = perRegion.GetValueOrDefault(region) + 1;
            }
        }

        double total = unplaced * factor;
        foreach (var (region, count) in perRegion)
        {
            total += Math.Min(count * factor, (region.Length + 31) / 32);
        }

        return (long)Math.Round(total);
    }

    /// <summary>Runs one CTA to completion; false when it faulted so badly the launch must stop (deadlock, trap).</summary>
    private bool RunCta(int x, int y, int z, long linear)
    {
        cta = (x, y, z);
        san.Block = cta;
        san.BlockLinear = linear;
        san.BeginCta();
        ResetAsync();
        new Span<byte>(shared, sharedBytes).Fill(DeviceMemory.Poison);
        new Span<byte>(local, localBytes * threadsPerCta).Fill(DeviceMemory.Poison);
        if (counters is not null)
        {
            counters.Ctas++;
        }

        foreach (var w in warps)
        {
            StartWarp(w);
        }

        while (true)
        {
            bool progress = false, anyLive = false;
            foreach (var w in warps)
            {
                if (w.Live == 0)
                {
                    continue;
                }

                anyLive = true;
                if (w.Runnable != 0)
                {
                    if (!RunWarp(w))
                    {
                        return false;
                    }

                    progress = true;
                }
            }

            if (!anyLive)
            {
                FinishWarps();
                return true;
            }

            if (!progress && !ReleaseBarrier())
            {
                return false;
            }
        }
    }

    private void FinishWarps()
    {
        if (counters is null)
        {
            return;
        }

        foreach (var w in warps)
        {
            counters.GlobalLoadRoundTrips += w.RoundTrips;
            counters.MaxWarpRoundTrips = Math.Max(counters.MaxWarpRoundTrips, w.RoundTrips);
        }
    }

    private void StartWarp(Warp w)
    {
        int first = w.Index * 32;
        int lanes = Math.Min(32, threadsPerCta - first);
        w.Live = lanes == 32 ? uint.MaxValue : (1u << lanes) - 1;
        w.BarrierWait = 0;
        w.CollectiveWait = 0;
        w.Converged = true;
        w.WarpPc = 0;
        w.RoundTrips = 0;
        w.ClearPending();

        var (bx, by, bz) = (geometry.Block.X, geometry.Block.Y, geometry.Block.Z);
        foreach (var (reg, kind) in kernel.Specials)
        {
            ulong* r = w.R + (reg * 32);
            for (int l = 0; l < 32; l++)
            {
                int t = first + l;
                r[l] = kind switch
                {
                    SpecialRegister.TidX => (ulong)(t % bx),
                    SpecialRegister.TidY => (ulong)(t / bx % by),
                    SpecialRegister.TidZ => (ulong)(t / (bx * by)),
                    SpecialRegister.NtidX => (ulong)bx,
                    SpecialRegister.NtidY => (ulong)by,
                    SpecialRegister.NtidZ => (ulong)bz,
                    SpecialRegister.CtaidX => (ulong)cta.X,
                    SpecialRegister.CtaidY => (ulong)cta.Y,
                    SpecialRegister.CtaidZ => (ulong)cta.Z,
                    SpecialRegister.NctaidX => (ulong)geometry.Grid.X,
                    SpecialRegister.NctaidY => (ulong)geometry.Grid.Y,
                    SpecialRegister.NctaidZ => (ulong)geometry.Grid.Z,
                    SpecialRegister.LaneId => (ulong)l,
                    SpecialRegister.WarpId => (ulong)w.Index,
                    SpecialRegister.NWarpId => (ulong)warps.Length,
                    SpecialRegister.LaneMaskEq => 1ul << l,
                    SpecialRegister.LaneMaskLt => (1ul << l) - 1,
                    SpecialRegister.LaneMaskLe => (2ul << l) - 1,
                    SpecialRegister.LaneMaskGt => ~((2ul << l) - 1) & 0xFFFF_FFFF,
                    SpecialRegister.LaneMaskGe => ~((1ul << l) - 1) & 0xFFFF_FFFF,
                    SpecialRegister.DynamicSmemSize => (ulong)geometry.DynamicSharedBytes,
                    SpecialRegister.TotalSmemSize => (ulong)sharedBytes,
                    _ => 0,
                };
            }
        }
    }

    /// <summary>All warps are blocked: release the barrier if every live thread waits at it, else report a deadlock.</summary>
    private bool ReleaseBarrier()
    {
        int id = -1;
        foreach (var w in warps)
        {
            if (w.Live == 0)
            {
                continue;
            }

            if (w.BarrierWait != w.Live || w.CollectiveWait != 0)
            {
                var stuck = warps.First(v => v.Live != 0 && (v.CollectiveWait != 0 || v.BarrierWait != v.Live));
                int lane = BitOperations.TrailingZeroCount(stuck.CollectiveWait != 0 ? stuck.CollectiveWait : stuck.Live & ~stuck.BarrierWait);
                int pc = stuck.Converged ? stuck.WarpPc : stuck.Pc[lane];
                san.Report(SanitizerRule.Deadlock, pc, (stuck.Index * 32) + (stuck.Converged ? 0 : lane), 0,
                    $"no thread of the block can proceed: warp {stuck.Index} waits (lanes 0x{stuck.CollectiveWait:X8} at a warp collective, 0x{stuck.BarrierWait:X8} at a barrier) while other threads wait at a barrier");
                return false;
            }

            if (id >= 0 && w.BarrierId != id)
            {
                san.Report(SanitizerRule.BarrierDivergence, w.Converged ? w.WarpPc : w.Pc[BitOperations.TrailingZeroCount(w.Live)], w.Index * 32, 0,
                    $"warps wait at different barriers ({id} and {w.BarrierId})");
            }

            id = w.BarrierId;
        }

        foreach (var w in warps)
        {
            if (w.BarrierWait == 0)
            {
                continue;
            }

            if (!w.Converged)
            {
                CheckAlignedBarrier(w);
            }

            if (w.Converged)
            {
                w.WarpPc++;
            }
            else
            {
                for (uint m = w.BarrierWait; m != 0; m &= m - 1)
                {
                    w.Pc[BitOperations.TrailingZeroCount(m)]++;
                }
            }

            w.BarrierWait = 0;
            w.TryReconverge();
        }

        san.BarrierReleased();
        if (counters is not null)
        {
            counters.Barriers++;
        }

        return true;
    }

    /// <summary>bar.sync is .aligned: every live lane of a warp must wait at the same barrier instruction.</summary>
    private void CheckAlignedBarrier(Warp w)
    {
        int first = BitOperations.TrailingZeroCount(w.BarrierWait);
        int pc = w.Pc[first];
        for (uint m = w.BarrierWait; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            if (w.Pc[l] != pc)
            {
                san.Report(SanitizerRule.BarrierDivergence, w.Pc[l], ThreadId(w, 1u << l), 0,
                    $"warp {w.Index} is split across two barrier instructions (lines {code[pc].Line} and {code[w.Pc[l]].Line}); .aligned barriers must be reached by whole warps at the same instruction");
                return;
            }
        }
    }

    /// <summary>Runs a warp until it blocks, exits or its slice ends; false when the launch must stop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool RunWarp(Warp w)
    {
        for (int budget = options.WarpTimeSlice; budget > 0; budget--)
        {
            uint runnable = w.Runnable;
            if (runnable == 0)
            {
                return true;
            }

            int pc;
            uint mask;
            if (w.Converged)
            {
                pc = w.WarpPc;
                mask = runnable;
            }
            else
            {
                pc = int.MaxValue;
                for (uint m = runnable; m != 0; m &= m - 1)
                {
                    pc = Math.Min(pc, w.Pc[BitOperations.TrailingZeroCount(m)]);
                }

                mask = 0;
                for (uint m = runnable | w.CollectiveWait; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    if (w.Pc[l] == pc)
                    {
                        mask |= 1u << l;
                    }
                }

                w.CollectiveWait &= ~mask;
            }

            if (options.MaxWarpInstructions > 0 && ++warpInstructions > options.MaxWarpInstructions)
            {
                san.Report(SanitizerRule.Deadlock, pc, w.Index * 32, 0, $"the launch ran more than {options.MaxWarpInstructions} warp instructions (a hang?)");
                return false;
            }

            if (!Step(w, pc, mask))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Moves the lanes of <paramref name="mask"/> past <paramref name="pc"/>.</summary>
    private static void Advance(Warp w, int pc, uint mask)
    {
        if (w.Converged)
        {
            w.WarpPc = pc + 1;
            return;
        }

        for (uint m = mask; m != 0; m &= m - 1)
        {
            w.Pc[BitOperations.TrailingZeroCount(m)] = pc + 1;
        }

        w.TryReconverge();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private uint GuardMask(Warp w, in Instr ins, uint mask)
    {
        ulong* p = w.R + ins.Guard;
        uint g = 0;
        for (uint m = mask; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            if ((p[l] & 1) != 0)
            {
                g |= 1u << l;
            }
        }

        return ins.GuardNegated ? mask & ~g : g;
    }

    /// <summary>Executes the instruction at <paramref name="pc"/> for the lanes of <paramref name="mask"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Step(Warp w, int pc, uint mask)
    {
        ref Instr ins = ref code[pc];
        uint exec = ins.Guard >= 0 ? GuardMask(w, ins, mask) : mask;
        if (counters is not null)
        {
            Count(w, in ins, exec);
        }

        if (w.AsyncRegistersInFlight > 0 && san.Checks)
        {
            CheckAsyncRegisters(w, in ins, pc);
        }

        if (options.Trace is not null && cta == options.TraceBlock && options.TraceThread >> 5 == w.Index
            && (mask & (1u << (options.TraceThread & 31))) != 0)
        {
            bool result = Execute(w, pc, mask, exec, ref ins);
            int lane = options.TraceThread & 31;
            bool ran = (exec & (1u << lane)) != 0;
            string value = ran && ins.D >= 0 ? $" -> 0x{w.R[ins.D + lane]:X}" : ran ? "" : " (guard false)";
            options.Trace($"{kernel.Module}:{ins.Line} [{pc}] {kernel.Source[pc]}{value}");
            return result;
        }

        return Execute(w, pc, mask, exec, ref ins);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Execute(Warp w, int pc, uint mask, uint exec, ref Instr ins)
    {

        switch (ins.Op)
        {
            case Op.Bra:
                Branch(w, in ins, pc, mask, exec);
                return true;
            case Op.Exit:
                w.Live &= ~exec;
                if (exec != 0 && w.CollectiveWait != 0)
                {
                    // Lanes waiting at a warp collective may have been waiting for these: let them re-check their
                    // member mask (an exited member is a finding, not a deadlock).
                    w.CollectiveWait = 0;
                }

                Advance(w, pc, mask & ~exec);
                return true;
            case Op.BarSync:
                BarrierArrive(w, in ins, pc, mask, exec);
                return true;
            case Op.Shfl:
            case Op.BarWarpSync:
            case Op.Vote:
            case Op.Mma:
            case Op.LdMatrix:
            case Op.Activemask:
                return Collective(w, in ins, pc, mask, exec);
            case Op.Trap:
                if (exec != 0)
                {
                    san.Report(SanitizerRule.Trap, pc, ThreadId(w, exec), 0, "trap executed");
                    return false;
                }

                Advance(w, pc, mask);
                return true;
            case >= Op.CpAsync:
                return exec == 0 && ins.Op < Op.Wgmma ? AdvanceOnly(w, pc, mask) : Async(w, in ins, pc, mask, exec);
            case Op.Ld:
            case Op.St:
            case Op.Atom:
            case Op.Red:
                MemoryAccess(w, in ins, pc, exec);
                Advance(w, pc, mask);
                return true;
            default:
                if (exec != 0)
                {
                    Arithmetic(w, in ins, exec);
                }

                Advance(w, pc, mask);
                return true;
        }
    }

    private static bool AdvanceOnly(Warp w, int pc, uint mask)
    {
        Advance(w, pc, mask);
        return true;
    }

    private static int ThreadId(Warp w, uint lanes) => (w.Index * 32) + BitOperations.TrailingZeroCount(lanes);

    private static void Branch(Warp w, in Instr ins, int pc, uint mask, uint taken)
    {
        if (w.Converged)
        {
            if (taken == mask)
            {
                w.WarpPc = ins.Target;
                return;
            }

            if (taken == 0)
            {
                w.WarpPc = pc + 1;
                return;
            }

            w.Diverge();
        }

        for (uint m = mask; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            w.Pc[l] = (taken & (1u << l)) != 0 ? ins.Target : pc + 1;
        }

        w.TryReconverge();
    }

    private void BarrierArrive(Warp w, in Instr ins, int pc, uint mask, uint exec)
    {
        if (exec == 0)
        {
            Advance(w, pc, mask);
            return;
        }

        // Lanes may reach the barrier at different times (lowest-PC-first scheduling runs one side of a branch
        // first); whether the whole warp met at the same barrier instruction is checked when it releases.
        int first = BitOperations.TrailingZeroCount(exec);
        w.BarrierId = (int)(uint)w.R[ins.A + first];
        if (w.Converged && exec == mask && mask == w.Live)
        {
            w.BarrierWait = exec;
            return;
        }

        w.Diverge();
        w.BarrierWait |= exec;
        for (uint m = mask; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            w.Pc[l] = (exec & (1u << l)) != 0 ? pc : pc + 1;
        }
    }

    public void Dispose()
    {
        foreach (var w in warps)
        {
            w.Dispose();
        }

        NativeMemory.AlignedFree(shared);
        NativeMemory.AlignedFree(local);
        NativeMemory.AlignedFree(param);
    }
}
