namespace Qwen3Next.PtxEmulator;

/// <summary>
/// Which CTAs of a grid run when profiling big shapes (<see cref="EmulatorOptions.Sampling"/>); the counters are
/// scaled by grid CTAs / CTAs run. Outputs of a sampled launch are not valid results.
/// </summary>
public sealed record CtaSampling
{
    private CtaSampling(int every, int firstPerRow, int atMost = 0)
    {
        Every = every;
        FirstPerRow = firstPerRow;
        AtMost = atMost;
    }

    /// <summary>Run about this many CTAs per launch, spread evenly over the grid (every ⌈CTAs / n⌉-th), so CTAs
    /// whose work varies along the grid (causal attention tiles) are represented; small grids run whole.</summary>
    public int AtMost { get; }

    /// <summary>Run every k-th CTA in launch order (linear index x + y·gridX + z·gridX·gridY divisible by k).</summary>
    public int Every { get; }

    /// <summary>Run the first n CTAs (blockIdx.x &lt; n) of every (blockIdx.y, blockIdx.z) row, so each row
    /// (a head, a token tile, an expert) is represented.</summary>
    public int FirstPerRow { get; }

    /// <summary>Kernels that always run every CTA: their CTAs cooperate (the last to arrive finishes the work, as in
    /// <c>moe_decode_route</c>), so a sample would leave their outputs unwritten and mislead every later launch.</summary>
    public IReadOnlyCollection<string> WholeKernels { get; init; } = [];

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

    public static CtaSampling AtMostPerLaunch(int ctas)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ctas);
        return new CtaSampling(0, 0, ctas);
    }

    internal bool Includes(int x, long linear, long gridCtas)
    {
        if (AtMost > 0)
        {
            long stride = (gridCtas + AtMost - 1) / AtMost;
            return linear % stride == 0;
        }

        return Every > 0 ? linear % Every == 0 : x < FirstPerRow;
    }

    public override string ToString() => AtMost > 0 ? $"at most {AtMost} CTAs per launch, evenly spread"
        : Every > 0 ? $"every {Every}th CTA" : $"first {FirstPerRow} CTA(s) per blockIdx.y/z row";
}
