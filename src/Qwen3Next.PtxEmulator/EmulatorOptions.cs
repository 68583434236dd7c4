namespace Qwen3Next.PtxEmulator;

/// <summary>How the emulator runs kernels.</summary>
public sealed record EmulatorOptions
{
    /// <summary>
    /// Race, uninitialised-read and non-coherent-write checks (like compute-sanitizer's racecheck and initcheck).
    /// Bounds, alignment, barrier and warp-collective checks are always on: they keep the host process safe.
    /// </summary>
    public bool Sanitize { get; init; } = true;

    /// <summary>Collect per-launch performance counters (instruction mix, sectors, bank conflicts, round trips).</summary>
    public bool Counters { get; init; } = true;

    /// <summary>A launch stops after this many distinct findings; any finding makes the launch throw at its end.</summary>
    public int MaxFindings { get; init; } = 64;

    /// <summary>Instructions a warp runs before the scheduler moves to the next warp (progress for spin loops).</summary>
    public int WarpTimeSlice { get; init; } = 1 << 16;

    /// <summary>A launch that executes more warp instructions than this is stopped as a hang (0 = no limit).</summary>
    public long MaxWarpInstructions { get; init; }

    public static EmulatorOptions Default { get; } = new();
}
