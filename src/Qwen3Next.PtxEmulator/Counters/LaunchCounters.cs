using Qwen3Next.PtxEmulator.Decoding;

namespace Qwen3Next.PtxEmulator.Counters;

/// <summary>
/// What one launch executed, counted by the interpreter: warp-level instructions per opcode handler, active lanes
/// (thread instructions), global and shared memory traffic at the granularity the hardware moves it (32-byte
/// sectors, 4-byte banks), and dependent global-load round trips per warp. The H200 model reads these.
/// </summary>
public sealed class LaunchCounters
{
    private static readonly int OpCount = Enum.GetValues<Op>().Length;

    /// <summary>Warp instructions issued, per <see cref="Op"/> (index = (int)op).</summary>
    public long[] WarpInstructionsByOp { get; } = new long[OpCount];

    /// <summary>Active lanes summed over the instructions of each <see cref="Op"/>.</summary>
    public long[] ThreadInstructionsByOp { get; } = new long[OpCount];

    public long WarpInstructions => WarpInstructionsByOp.Sum();

    public long ThreadInstructions => ThreadInstructionsByOp.Sum();

    /// <summary>Active lanes per issued warp instruction, over 32 (1 = no divergence or idle lanes).</summary>
    public double SimtEfficiency => WarpInstructions == 0 ? 1 : ThreadInstructions / (32.0 * WarpInstructions);

    /// <summary>Warp-level global load and store instructions (requests).</summary>
    public long GlobalLoadRequests { get; internal set; }

    public long GlobalStoreRequests { get; internal set; }

    /// <summary>32-byte sectors those requests touched (counted per request, so re-reads count again).</summary>
    public long GlobalLoadSectors { get; internal set; }

    public long GlobalStoreSectors { get; internal set; }

    /// <summary>Bytes the active lanes asked for.</summary>
    public long GlobalLoadBytesRequested { get; internal set; }

    public long GlobalStoreBytesRequested { get; internal set; }

    /// <summary>Distinct 32-byte sectors read / written anywhere in the launch (DRAM traffic if the caches were perfect).</summary>
    public long UniqueLoadSectors { get; internal set; }

    public long UniqueStoreSectors { get; internal set; }

    public long SharedLoadRequests { get; internal set; }

    public long SharedStoreRequests { get; internal set; }

    /// <summary>Shared-memory wavefronts: one per request plus one per extra pass a bank conflict forces.</summary>
    public long SharedWavefronts { get; internal set; }

    public long SharedBankConflicts => SharedWavefronts - SharedLoadRequests - SharedStoreRequests;

    public long LocalRequests { get; internal set; }

    public long AtomicRequests { get; internal set; }

    /// <summary>Times a warp had to wait for a global load it issued (a use of a register a pending load writes),
    /// summed over warps: the serialised memory latencies of the launch.</summary>
    public double GlobalLoadRoundTrips { get; internal set; }

    /// <summary>The largest number of such waits of any one warp (the critical path of the slowest warp).</summary>
    public double MaxWarpRoundTrips { get; internal set; }

    /// <summary>FLOPs of the wgmma.mma_async instructions (2·M·N·K per warpgroup instruction, counted a quarter per
    /// warp): work at the full tensor peak, unlike mma.sync (<see cref="Model.H200Spec.MmaSyncFractionOfPeak"/>).</summary>
    public double WgmmaFlops { get; internal set; }

    public long Barriers { get; internal set; }

    /// <summary>CTAs of the grid (after scaling when sampled).</summary>
    public long Ctas { get; internal set; }

    public long Warps { get; internal set; }

    /// <summary>CTAs that actually ran: fewer than <see cref="Ctas"/> when <see cref="EmulatorOptions.Sampling"/>
    /// chose a sample and every other count was scaled up to the whole grid.</summary>
    public long CtasRun { get; internal set; }

    public bool Sampled => CtasRun < Ctas;

    public long Count(Op op) => WarpInstructionsByOp[(int)op];

    /// <summary>Scales the counts of the <see cref="Ctas"/> CTAs that ran to <paramref name="gridCtas"/> CTAs,
    /// assuming the sample is typical. The slowest warp's round trips are a maximum and stay as measured; unique
    /// sectors are scaled by the caller, which knows the allocations they fall in.</summary>
    internal void ScaleToGrid(long gridCtas, int warpsPerCta, long uniqueLoadSectors, long uniqueStoreSectors)
    {
        CtasRun = Ctas;
        if (Ctas == 0 || Ctas == gridCtas)
        {
            return;
        }

        double f = (double)gridCtas / Ctas;
        long S(long v) => (long)Math.Round(v * f);
        for (int i = 0; i < WarpInstructionsByOp.Length; i++)
        {
            WarpInstructionsByOp[i] = S(WarpInstructionsByOp[i]);
            ThreadInstructionsByOp[i] = S(ThreadInstructionsByOp[i]);
        }

        GlobalLoadRequests = S(GlobalLoadRequests);
        GlobalStoreRequests = S(GlobalStoreRequests);
        GlobalLoadSectors = S(GlobalLoadSectors);
        GlobalStoreSectors = S(GlobalStoreSectors);
        GlobalLoadBytesRequested = S(GlobalLoadBytesRequested);
        GlobalStoreBytesRequested = S(GlobalStoreBytesRequested);
        UniqueLoadSectors = uniqueLoadSectors;
        UniqueStoreSectors = uniqueStoreSectors;
        SharedLoadRequests = S(SharedLoadRequests);
        SharedStoreRequests = S(SharedStoreRequests);
        SharedWavefronts = S(SharedWavefronts);
        LocalRequests = S(LocalRequests);
        AtomicRequests = S(AtomicRequests);
        GlobalLoadRoundTrips *= f;
        WgmmaFlops *= f;
        Barriers = S(Barriers);
        Ctas = gridCtas;
        Warps = gridCtas * warpsPerCta;
    }
}
