namespace Qwen3Next.PtxEmulator.Sanitizer;

/// <summary>The rules the sanitizer checks (each has a deliberately broken kernel in the tests that it catches).</summary>
public enum SanitizerRule
{
    /// <summary>A global, shared, local or param access outside its allocation or window (always checked).</summary>
    OutOfBounds,

    /// <summary>An access whose address is not a multiple of its size (always checked; a fault on hardware).</summary>
    Misaligned,

    /// <summary>Shared memory written by one thread and read or written by another in the same barrier interval.</summary>
    SharedRace,

    /// <summary>Global memory written by one block and read or written by another block in the same launch.</summary>
    GlobalRace,

    /// <summary>Global memory read through <c>ld.global.nc</c> (read-only cache) and written in the same launch.</summary>
    NonCoherentWrite,

    /// <summary>Device memory read by a kernel before anything wrote it.</summary>
    UninitialisedRead,

    /// <summary>Only part of a warp reached a <c>bar.sync</c> (.aligned), or warps wait at different barriers.</summary>
    BarrierDivergence,

    /// <summary>No thread of the CTA can make progress.</summary>
    Deadlock,

    /// <summary>A warp collective (<c>shfl.sync</c>, <c>bar.warp.sync</c>, <c>vote.sync</c>, <c>mma.sync</c>) whose
    /// member mask names exited lanes or lanes that execute something else, or a lane outside its mask.</summary>
    WarpSyncMismatch,

    /// <summary><c>trap</c>, or an instruction the hardware would fault on.</summary>
    Trap,

    /// <summary>Shared memory or a register in flight for an asynchronous operation accessed before its wait point:
    /// a <c>cp.async</c> destination before the issuing thread's <c>cp.async.wait_group</c>, shared memory a
    /// <c>wgmma.mma_async</c> reads written before the <c>wgmma.wait_group</c> that completes it, a wgmma accumulator
    /// register used before that wait, or a wgmma without a <c>wgmma.fence</c> since the last commit.</summary>
    AsyncHazard,

    /// <summary>Shared memory written through the generic proxy (<c>st.shared</c>, a completed <c>cp.async</c>) read by
    /// <c>wgmma</c> (the async proxy) without the writer's <c>fence.proxy.async</c> between the write and the read.</summary>
    MissingProxyFence,
}

/// <summary>
/// One finding, with where it happened: kernel, PTX line and text, thread and block, address and the region it
/// is in (or the nearest one). <see cref="Count"/> is how many times the same rule fired at the same instruction
/// in the launch (only the first occurrence's details are kept).
/// </summary>
public sealed record SanitizerFinding(SanitizerRule Rule, string Kernel, int Line, string Instruction, (int X, int Y, int Z) Thread,
    (int X, int Y, int Z) Block, ulong Address, string Detail)
{
    public long Count { get; internal set; } = 1;

    public override string ToString()
        => $"{Rule}: {Kernel} line {Line} `{Instruction}` thread ({Thread.X},{Thread.Y},{Thread.Z}) block ({Block.X},{Block.Y},{Block.Z})"
            + (Address != 0 ? $" address 0x{Address:X}" : "") + $": {Detail}" + (Count > 1 ? $" (x{Count})" : "");
}
