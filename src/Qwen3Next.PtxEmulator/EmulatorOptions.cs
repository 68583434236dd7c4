namespace Qwen3Next.PtxEmulator;

/// <summary>How the emulator runs kernels.</summary>
public sealed record EmulatorOptions
{
    /// <summary>
    /// Race, uninitialised-read and non-coherent-write checks (like compute-sanitizer's racecheck and initcheck).
    /// Bounds, alignment, barrier and warp-collective checks are always on: they keep the host process safe.
    /// </summary>
    public bool Sanitize { get; init; } = true;

    /// <summary>Collect per-launch performance counters (instruction mix, sectors, bank conflicts, round trips); off by
    /// default because they cost about a third of the interpreter's speed, on for profiling.</summary>
    public bool Counters { get; init; }

    /// <summary>A launch stops after this many distinct findings; any finding makes the launch throw at its end.</summary>
    public int MaxFindings { get; init; } = 64;

    /// <summary>Instructions a warp runs before the scheduler moves to the next warp (progress for spin loops).</summary>
    public int WarpTimeSlice { get; init; } = 1 << 16;

    /// <summary>A launch that executes more warp instructions than this is stopped as a hang (0 = no limit).</summary>
    public long MaxWarpInstructions { get; init; }

    /// <summary>When set, every instruction thread <see cref="TraceThread"/> of block <see cref="TraceBlock"/> executes is
    /// written here with the values it produced (debugging a kernel line by line).</summary>
    public Action<string>? Trace { get; init; }

    public (int X, int Y, int Z) TraceBlock { get; init; }

    public int TraceThread { get; init; }

    /// <summary>
    /// PROFILING ONLY: run a sample of the grid's CTAs and scale the counters to the whole grid, so the H200 model
    /// can be applied to real shapes in seconds. The launch's outputs are then NOT valid (the CTAs that did not run
    /// wrote nothing), and a later launch reading them reads uninitialised memory: profile with
    /// <see cref="Sanitize"/> off and never compare sampled outputs. Null (the default) runs every CTA.
    /// </summary>
    public CtaSampling? Sampling { get; init; }

    public static EmulatorOptions Default { get; } = new();
}
