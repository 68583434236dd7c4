namespace Qwen3Next.PtxEmulator.Model;

/// <summary>
/// How many CTAs of a launch one SM holds at once, and what limits it, by the rules of NVIDIA's occupancy
/// calculator for compute capability 9.0: warps (64 per SM), blocks (32), registers (per-thread count rounded up
/// to the warp allocation unit) and shared memory (static + dynamic + the per-block reservation, in allocation
/// units). The shared-memory carve-out is taken at its maximum.
/// </summary>
public sealed record Occupancy(int CtasPerSm, int WarpsPerCta, string Limiter, int SharedBytesPerCta, int RegistersPerWarp)
{
    public int ResidentWarpsPerSm => CtasPerSm * WarpsPerCta;

    /// <summary>Resident warps over the SM's maximum (the occupancy CUDA reports).</summary>
    public double Fraction(H200Spec spec) => (double)ResidentWarpsPerSm / spec.MaxWarpsPerSm;

    public static Occupancy Compute(H200Spec spec, int threadsPerCta, int registersPerThread, int sharedBytesPerCta)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threadsPerCta);
        ArgumentOutOfRangeException.ThrowIfNegative(sharedBytesPerCta);
        if (registersPerThread < 1 || registersPerThread > spec.MaxRegistersPerThread)
        {
            throw new ArgumentOutOfRangeException(nameof(registersPerThread), registersPerThread, $"registers per thread must be 1..{spec.MaxRegistersPerThread}");
        }

        int warpsPerCta = (threadsPerCta + 31) / 32;
        int registersPerWarp = RoundUp(registersPerThread * 32, spec.RegisterAllocationUnit);
        int sharedPerCta = sharedBytesPerCta == 0 ? 0 : RoundUp(sharedBytesPerCta + spec.SharedReservedBytesPerCta, spec.SharedAllocationUnit);
        var limits = new List<(int Ctas, string Name)>
        {
            (spec.MaxWarpsPerSm / warpsPerCta, "warps"),
            (spec.MaxCtasPerSm, "blocks"),
            (spec.RegistersPerSm / registersPerWarp / warpsPerCta, "registers"),
        };
        if (sharedPerCta > 0)
        {
            limits.Add((spec.SharedBytesPerSm / sharedPerCta, "shared memory"));
        }

        var (ctas, limiter) = limits.MinBy(l => l.Ctas);
        if (ctas == 0)
        {
            throw new H200ModelException(
                $"a block of {threadsPerCta} threads with {registersPerThread} registers/thread and {sharedBytesPerCta} B shared memory does not fit on one SM (limit: {limiter})");
        }

        return new Occupancy(ctas, warpsPerCta, limiter, sharedPerCta, registersPerWarp);
    }

    private static int RoundUp(int value, int unit) => (value + unit - 1) / unit * unit;
}

/// <summary>The H200 model cannot estimate a launch (it could not run on the GPU, or its inputs are inconsistent).</summary>
public sealed class H200ModelException(string message) : PtxEmulatorException(message);
