namespace Qwen3Next.PtxEmulator;

/// <summary>
/// Which CTAs of a grid run when profiling big shapes (<see cref="EmulatorOptions.Sampling"/>); the counters are
/// scaled by grid CTAs / CTAs run. Outputs of a sampled launch are not valid results.
/// </summary>
public sealed record CtaSampling
{
    private CtaSampling(int every, int firstPerRow)
    {
        Every = every;
        FirstPerRow = firstPerRow;
    }

    /// <summary>Run every k-th CTA in launch order (linear index x + y·gridX + z·gridX·gridY divisible by k).</summary>
    public int Every { get; }

    /// <summary>Run the first n CTAs (blockIdx.x &lt; n) of every (blockIdx.y, blockIdx.z) row, so each row
    /// (a head, a token tile, an expert) is represented.</summary>
    public int FirstPerRow { get; }

    public static CtaSampling EveryKth(int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        return new CtaSampling(k, 0);
    }

    public static CtaSampling FirstNPerRow(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        return new CtaSampling(0, n);
    }

    internal bool Includes(int x, long linear) => Every > 0 ? linear % Every == 0 : x < FirstPerRow;

    public override string ToString() => Every > 0 ? $"every {Every}th CTA" : $"first {FirstPerRow} CTA(s) per blockIdx.y/z row";
}
