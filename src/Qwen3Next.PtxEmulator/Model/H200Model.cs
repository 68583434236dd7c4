using Qwen3Next.PtxEmulator.Counters;
using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Execution;

namespace Qwen3Next.PtxEmulator.Model;

/// <summary>
/// An analytical model of one launch's time on an H200 (a model, not a measurement; docs/h200-model.md). From the
/// launch geometry, the kernel's registers and shared memory, and the emulator's counters it computes a time per
/// resource and takes the largest. Work is spread over the SMs as the block scheduler does, so the busiest SM runs
/// ceil(CTAs / SMs) CTAs; every SM-local pipe bound is that SM's share of the counted work at the pipe's rate.
/// </summary>
public sealed class H200Model(H200Spec? spec = null, PtxasReport? report = null)
{
    /// <summary>FLOPs of one mma.m16n8k16: 16 × 8 × 16 multiply-adds.</summary>
    public const double MmaM16N8K16Flops = 2.0 * 16 * 8 * 16;

    public H200Spec Spec { get; } = spec ?? H200Spec.Default;

    public PtxasReport Report { get; } = report ?? PtxasReport.Embedded;

    /// <summary>Estimates a launch the emulator ran with counters on; registers come from the ptxas reports.</summary>
    public LaunchEstimate Estimate(LaunchResult launch)
    {
        var counters = launch.Counters
            ?? throw new H200ModelException($"kernel {launch.Kernel.Name}: the launch ran without counters (EmulatorOptions.Counters = false); the model needs them");
        var resources = Report.Resolve(launch.Kernel.Name, launch.Kernel.Module, launch.Kernel.StaticSharedBytes, (int)launch.Geometry.Block.Count, Spec);
        return Estimate(launch.Kernel.Name, launch.Geometry, resources, counters);
    }

    public LaunchEstimate Estimate(string kernel, LaunchGeometry geometry, KernelResources resources, LaunchCounters counters)
    {
        long ctas = geometry.Grid.Count;
        if (counters.Ctas != ctas)
        {
            throw new H200ModelException($"kernel {kernel}: counters cover {counters.Ctas} CTAs but the grid {geometry.Grid} has {ctas}");
        }

        var occupancy = Occupancy.Compute(Spec, (int)geometry.Block.Count, resources.RegistersPerThread, resources.StaticSharedBytes + geometry.DynamicSharedBytes);
        long busiest = (ctas + Spec.Sms - 1) / Spec.Sms;
        double share = (double)busiest / ctas;
        int residentWarps = (int)Math.Min(busiest, occupancy.CtasPerSm) * occupancy.WarpsPerCta;
        var bounds = new List<ModelBound>
        {
            Dram(counters),
            L2(counters, share),
            Shared(counters, share),
            Issue(counters, share, residentWarps),
        };
        foreach (var (kind, pipe, lanes) in PipeRates())
        {
            bounds.Add(PipeBound(kind, counters, pipe, lanes, share));
        }

        bounds.Add(Tensor(counters, share));
        bounds.Add(Latency(counters, busiest, occupancy));
        bounds.Add(new ModelBound(BoundKind.Launch, Spec.LaunchOverheadSeconds, "launch floor"));
        var work = CountedWork(counters);
        double waves = (double)ctas / ((long)occupancy.CtasPerSm * Spec.Sms);
        return new LaunchEstimate(kernel, geometry, resources, occupancy, waves, bounds, work, work.Seconds(Spec), counters.CtasRun);
    }

    /// <summary>Unique bytes read and written by the launch: the FLOPs and bytes its own roofline is drawn from.</summary>
    public static Roofline CountedWork(LaunchCounters c)
    {
        double bytes = (c.UniqueLoadSectors + c.UniqueStoreSectors) * 32.0;
        double cudaCore = (2.0 * c.ThreadInstructionsByOp[(int)Op.FmaF32]) + c.ThreadInstructionsByOp[(int)Op.AddF32]
            + c.ThreadInstructionsByOp[(int)Op.SubF32] + c.ThreadInstructionsByOp[(int)Op.MulF32];
        return new Roofline(bytes, cudaCore, (c.Count(Op.Mma) * MmaM16N8K16Flops) + c.WgmmaFlops);
    }

    private IEnumerable<(BoundKind Kind, Pipe Pipe, int Lanes)> PipeRates() =>
    [
        (BoundKind.Fp32, Pipe.Fp32, Spec.Fp32LanesPerClock),
        (BoundKind.Fp64, Pipe.Fp64, Spec.Fp64LanesPerClock),
        (BoundKind.Int, Pipe.Int, Spec.IntLanesPerClock),
        (BoundKind.Sfu, Pipe.Sfu, Spec.SfuLanesPerClock),
        (BoundKind.Conversion, Pipe.Conversion, Spec.ConversionLanesPerClock),
        (BoundKind.Shuffle, Pipe.Shuffle, Spec.ShuffleLanesPerClock),
        (BoundKind.Lsu, Pipe.Lsu, Spec.LsuLanesPerClock),
    ];

    private ModelBound Dram(LaunchCounters c)
    {
        double bytes = (c.UniqueLoadSectors + c.UniqueStoreSectors) * 32.0;
        return new ModelBound(BoundKind.Dram, bytes / Spec.HbmAchievableBytesPerSecond,
            $"{bytes / 1e6:F2} MB unique ÷ {Spec.HbmAchievableBytesPerSecond / 1e12:F1} TB/s");
    }

    private ModelBound L2(LaunchCounters c, double share)
    {
        double bytes = (c.GlobalLoadSectors + c.GlobalStoreSectors) * 32.0;
        double aggregate = bytes / Spec.L2BytesPerSecond;
        double perSm = bytes * share / (Spec.L2BytesPerClockPerSm * Spec.ClockHz);
        return new ModelBound(BoundKind.L2, Math.Max(aggregate, perSm), aggregate >= perSm
            ? $"{bytes / 1e6:F2} MB of sectors ÷ {Spec.L2BytesPerSecond / 1e12:F1} TB/s"
            : $"{bytes * share / 1e6:F3} MB on the busiest SM ÷ {Spec.L2BytesPerClockPerSm} B/clk");
    }

    private ModelBound Shared(LaunchCounters c, double share)
    {
        double perClock = Spec.SharedBytesPerClock / 128.0;
        double wavefronts = c.SharedWavefronts * share;
        return new ModelBound(BoundKind.Shared, wavefronts / perClock / Spec.ClockHz,
            $"{wavefronts:N0} wavefronts on the busiest SM ({c.SharedBankConflicts:N0} conflict replays in all)");
    }

    private ModelBound Issue(LaunchCounters c, double share, int residentWarps)
    {
        long issued = 0;
        for (int op = 0; op < c.WarpInstructionsByOp.Length; op++)
        {
            if (OpPipes.Of((Op)op) != Pipe.Folded)
            {
                issued += c.WarpInstructionsByOp[op];
            }
        }

        int rate = Math.Max(1, Math.Min(Spec.Schedulers, residentWarps));
        double perSm = issued * share;
        return new ModelBound(BoundKind.Issue, perSm / rate / Spec.ClockHz,
            $"{perSm:N0} warp instructions on the busiest SM ÷ {rate}/clk");
    }

    private ModelBound PipeBound(BoundKind kind, LaunchCounters c, Pipe pipe, int lanes, double share)
    {
        long instructions = 0;
        for (int op = 0; op < c.WarpInstructionsByOp.Length; op++)
        {
            if (OpPipes.Of((Op)op) == pipe)
            {
                instructions += c.WarpInstructionsByOp[op];
            }
        }

        // A warp instruction occupies a pipe for 32 lane slots however many lanes are active.
        double perSm = instructions * share;
        return new ModelBound(kind, perSm * 32 / lanes / Spec.ClockHz, $"{perSm:N0} warp instructions on the busiest SM at {lanes} lanes/clk");
    }

    /// <summary>wgmma at the full dense peak, mma.sync at <see cref="H200Spec.MmaSyncFractionOfPeak"/> of it; both
    /// share the SM's tensor cores, so their clocks add.</summary>
    private ModelBound Tensor(LaunchCounters c, double share)
    {
        double mmas = c.Count(Op.Mma) * share;
        double wgmmaFlops = c.WgmmaFlops * share;
        double clocks = (mmas * MmaM16N8K16Flops / Spec.MmaSyncFlopsPerClockPerSm) + (wgmmaFlops / Spec.TensorFlopsPerClockPerSm);
        string detail = wgmmaFlops > 0
            ? $"{wgmmaFlops / 1e9:N2} GFLOP of wgmma on the busiest SM at {Spec.TensorFlopsPerClockPerSm:N0} FLOP/clk"
                + (mmas > 0 ? $" + {mmas:N0} mma.sync m16n8k16 at {Spec.MmaSyncFlopsPerClockPerSm:N0}" : "")
            : $"{mmas:N0} mma.sync m16n8k16 on the busiest SM at {Spec.MmaSyncFlopsPerClockPerSm:N0} FLOP/clk";
        return new ModelBound(BoundKind.Tensor, clocks / Spec.ClockHz, detail);
    }

    /// <summary>The slowest warp's chain of dependent loads, or the busiest SM's warps' chains run
    /// <see cref="Occupancy.CtasPerSm"/> CTAs at a time (each resident wave waits its mean chain).</summary>
    private ModelBound Latency(LaunchCounters c, long busiest, Occupancy occupancy)
    {
        double mean = c.Warps == 0 ? 0 : c.GlobalLoadRoundTrips / c.Warps;
        long wavesPerSm = (busiest + occupancy.CtasPerSm - 1) / occupancy.CtasPerSm;
        double perWave = wavesPerSm * mean;
        double trips = Math.Max(c.MaxWarpRoundTrips, perWave);
        string detail = perWave >= c.MaxWarpRoundTrips
            ? $"{wavesPerSm} wave(s) per SM × {mean:F1} round trips per warp × {Spec.DramLatencySeconds * 1e9:F0} ns"
            : $"slowest warp: {c.MaxWarpRoundTrips:0.##} round trips × {Spec.DramLatencySeconds * 1e9:F0} ns";
        return new ModelBound(BoundKind.Latency, trips * Spec.DramLatencySeconds, detail);
    }
}
