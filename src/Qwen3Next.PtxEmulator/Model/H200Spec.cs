namespace Qwen3Next.PtxEmulator.Model;

/// <summary>
/// Every constant of the H200 time model, in one place so a GPU run can calibrate them (docs/h200-model.md).
/// Sources: NVIDIA H200 product brief / datasheet (SXM), the NVIDIA H100 (GH100) architecture whitepaper (H200 is
/// the same GH100 compute die with HBM3e), the CUDA C++ Programming Guide (compute capability 9.0 tables) and the
/// FlashAttention-3 paper (Shah et al. 2024, arXiv:2407.08608). Where no published figure exists the value is an
/// assumption and says so. All throughputs are per SM per SM clock unless named otherwise.
/// </summary>
public sealed record H200Spec
{
    /// <summary>The defaults below (H200 SXM).</summary>
    public static H200Spec Default { get; } = new();

    /// <summary>132 SMs enabled on H200 SXM (H100 whitepaper, SXM5 column; H200 datasheet).</summary>
    public int Sms { get; init; } = 132;

    /// <summary>Clock the model runs at: 1.83 GHz, the clock NVIDIA's dense peaks are quoted at
    /// (989.4 TFLOPs bf16 = 132 SMs × 4096 FLOP/clk × 1.83 GHz). Sustained clocks under heavy load can be lower.</summary>
    public double ClockHz { get; init; } = 1.83e9;

    /// <summary>Maximum boost clock, 1.98 GHz (H100/H200 SXM); reported, not used for bounds.</summary>
    public double MaxBoostClockHz { get; init; } = 1.98e9;

    /// <summary>HBM3e peak, 4.8 TB/s (H200 datasheet): the roofline's bandwidth.</summary>
    public double HbmPeakBytesPerSecond { get; init; } = 4.8e12;

    /// <summary>What a large device-to-device copy achieves, ~4.3 TB/s (≈ 90% of peak, the usual measured fraction;
    /// assumption until the GPU check pack measures it): the DRAM bound's bandwidth.</summary>
    public double HbmAchievableBytesPerSecond { get; init; } = 4.3e12;

    /// <summary>L2 capacity, 50 MB (H100 SXM5 whitepaper; H200 unchanged).</summary>
    public long L2Bytes { get; init; } = 50L * 1024 * 1024;

    /// <summary>Aggregate L2 bandwidth for sector traffic, ~10 TB/s. No NVIDIA figure; assumption from third-party
    /// microbenchmark summaries of H100 (about 2–3× HBM). Calibrate.</summary>
    public double L2BytesPerSecond { get; init; } = 10e12;

    /// <summary>What one SM can move to or from L2 per clock, 64 B (assumption: one 64-byte L1↔L2 transfer per clock).</summary>
    public double L2BytesPerClockPerSm { get; init; } = 64;

    /// <summary>Shared memory per SM, 228 KB (227 KB usable by one block); 1 KB per resident block is reserved by
    /// the system (CUDA Programming Guide, compute capability 9.0 limits).</summary>
    public int SharedBytesPerSm { get; init; } = 228 * 1024;

    public int SharedReservedBytesPerCta { get; init; } = 1024;

    /// <summary>Shared memory is allocated to a block in 128-byte units (occupancy calculator, cc 9.0).</summary>
    public int SharedAllocationUnit { get; init; } = 128;

    /// <summary>64K 32-bit registers per SM; registers are allocated per warp in units of 256 (occupancy calculator).</summary>
    public int RegistersPerSm { get; init; } = 65536;

    public int RegisterAllocationUnit { get; init; } = 256;

    public int MaxRegistersPerThread { get; init; } = 255;

    /// <summary>2048 threads (64 warps) and 32 blocks per SM (CUDA Programming Guide, cc 9.0).</summary>
    public int MaxThreadsPerSm { get; init; } = 2048;

    public int MaxCtasPerSm { get; init; } = 32;

    /// <summary>4 warp schedulers per SM, each issuing one warp instruction per clock (H100 whitepaper, SM diagram).</summary>
    public int Schedulers { get; init; } = 4;

    /// <summary>Lanes per clock per SM of each pipe (CUDA Programming Guide arithmetic throughput table, cc 9.0;
    /// H100 whitepaper SM diagram): FP32 128, FP64 64, integer/logic/compare 64, special functions (ex2, lg2, rcp,
    /// rsqrt, sin, cos, tanh approx) 16, warp shuffle 32, conversions to/from 64-bit and float↔int 16.</summary>
    public int Fp32LanesPerClock { get; init; } = 128;

    public int Fp64LanesPerClock { get; init; } = 64;

    public int IntLanesPerClock { get; init; } = 64;

    public int SfuLanesPerClock { get; init; } = 16;

    public int ShuffleLanesPerClock { get; init; } = 32;

    public int ConversionLanesPerClock { get; init; } = 16;

    /// <summary>Load/store units: 32 per SM (8 per partition, H100 whitepaper SM diagram), so one warp-wide memory
    /// instruction (any state space) per clock.</summary>
    public int LsuLanesPerClock { get; init; } = 32;

    /// <summary>Shared memory moves 128 B per clock per SM: 32 banks × 4 B, one wavefront per clock.</summary>
    public int SharedBytesPerClock { get; init; } = 128;

    /// <summary>Dense bf16 tensor peak with fp32 accumulate: 4096 FLOP/clk/SM (989.4 TFLOPs at 1.83 GHz;
    /// H100/H200 datasheets). Reached only by wgmma (sm_90a).</summary>
    public double TensorFlopsPerClockPerSm { get; init; } = 4096;

    /// <summary>Fraction of that peak mma.sync (the Ampere-style warp MMA the kernels use) reaches on Hopper.
    /// FlashAttention-3 (§2–3) states mma.sync reaches only about 2/3 of Hopper's tensor peak; the model takes a
    /// more conservative 1/2 (assumption, to be calibrated by the GPU check pack). With it one m16n8k16 (4096 FLOPs)
    /// completes every 2 clocks per SM.</summary>
    public double MmaSyncFractionOfPeak { get; init; } = 0.5;

    /// <summary>Latency of one global load that goes to DRAM, 650 ns: within the 600–800 ns commonly quoted for a
    /// loaded HBM access (idle pointer-chase figures are lower). Assumption; calibrate.</summary>
    public double DramLatencySeconds { get; init; } = 650e-9;

    /// <summary>Smallest time of one kernel launch back to back on a stream, ~2.5 µs (launch latency without graphs;
    /// assumption). A floor, not added to the other bounds.</summary>
    public double LaunchOverheadSeconds { get; init; } = 2.5e-6;

    /// <summary>PCIe Gen5 x16 host-to-device with pinned memory, ~50 GB/s of the 64 GB/s raw (assumption; the
    /// <c>kernels bench</c> host-to-device ceiling measures it).</summary>
    public double PcieHostToDeviceBytesPerSecond { get; init; } = 50e9;

    /// <summary>Warps per SM at full occupancy.</summary>
    public int MaxWarpsPerSm => MaxThreadsPerSm / 32;

    /// <summary>FP32 peak (FMA = 2 FLOPs): 132 × 128 × 2 × 1.83 GHz ≈ 61.8 TFLOPs.</summary>
    public double Fp32PeakFlops => Sms * Fp32LanesPerClock * 2.0 * ClockHz;

    /// <summary>Dense bf16 tensor peak (wgmma): ≈ 989 TFLOPs.</summary>
    public double TensorPeakFlops => Sms * TensorFlopsPerClockPerSm * ClockHz;

    /// <summary>FLOPs one mma.sync m16n8k16 retires per clock per SM under the model's assumption.</summary>
    public double MmaSyncFlopsPerClockPerSm => TensorFlopsPerClockPerSm * MmaSyncFractionOfPeak;
}
