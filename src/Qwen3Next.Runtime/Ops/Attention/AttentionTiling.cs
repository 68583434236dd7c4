using Qwen3Next.Backends;

namespace Qwen3Next.Ops.Attention;

/// <summary>
/// Host-side choice of tiles and KV splits for <see cref="FlashAttentionKernels"/> over a packed batch (the unit list:
/// tiles never cross a sequence), and the shape checks that keep every size inside the kernels' compile-time
/// shared-memory arrays.
/// </summary>
public static class AttentionTiling
{
    /// <summary>Most KV splits of one decode token; enough to give an H200's 132 SMs work with 2 kv heads.</summary>
    public const int MaxSplits = 64;

    /// <summary>Fewest cache positions per split: below this the combine pass costs more than the split saves.</summary>
    public const int MinSplitLength = 64;

    /// <summary>Cached keys per shared-memory tile: 8 at D=256, 32 at D=64, 64 at D≤32.</summary>
    public static int KvTile(int headDim) => Math.Min(FlashAttentionKernels.MaxKvTile, FlashAttentionKernels.KvFloats / (headDim + 1));

    /// <summary>Query rows one unit can hold: bounded by the O accumulator (Rows·D) and the score tile (Rows·KvTile).</summary>
    public static int MaxRows(int headDim)
        => Math.Min(FlashAttentionKernels.MaxRows,
            Math.Min(FlashAttentionKernels.AccumulatorFloats / headDim, FlashAttentionKernels.ScoreFloats / KvTile(headDim)));

    /// <summary>Throws for shapes the kernels cannot hold, before anything is launched or written.</summary>
    public static void Validate(GatedAttentionShape s)
    {
        if (s.QueryHeads <= 0 || s.KeyValueHeads <= 0 || s.QueryHeads % s.KeyValueHeads != 0)
        {
            throw new ArgumentException($"Gated attention needs Hq a positive multiple of Hkv; got Hq={s.QueryHeads}, Hkv={s.KeyValueHeads}.", nameof(s));
        }

        if (s.HeadDim <= 0 || s.HeadDim + 1 > FlashAttentionKernels.KvFloats)
        {
            throw new ArgumentException($"Gated attention head_dim {s.HeadDim} does not fit the kernel's shared-memory K tile.", nameof(s));
        }

        if (s.RotaryDim < 0 || s.RotaryDim % 2 != 0 || s.RotaryDim > s.HeadDim)
        {
            throw new ArgumentException($"Gated attention rotary_dim {s.RotaryDim} must be even and at most head_dim {s.HeadDim}.", nameof(s));
        }

        if (s.Group > MaxRows(s.HeadDim))
        {
            throw new ArgumentException(
                $"Gated attention GQA group {s.Group} (Hq={s.QueryHeads}, Hkv={s.KeyValueHeads}) exceeds the {MaxRows(s.HeadDim)} query rows one flash tile holds at head_dim {s.HeadDim}.",
                nameof(s));
        }
    }

    /// <summary>
    /// KV splits of a decode token that sees <paramref name="visible"/> cache rows: pieces of at least MinSplitLength rows,
    /// each a whole number of KV tiles, at most MaxSplits, so long caches spread over many groups and short ones stay in one.
    /// </summary>
    public static int Splits(GatedAttentionShape s, int visible) => (visible + SplitLength(s, visible) - 1) / SplitLength(s, visible);

    private static int SplitLength(GatedAttentionShape s, int visible)
    {
        int kvTile = KvTile(s.HeadDim);
        int length = Math.Max(MinSplitLength, (visible + MaxSplits - 1) / MaxSplits);
        return (length + kvTile - 1) / kvTile * kvTile;
    }

    /// <summary>
    /// The launch over <paramref name="batch"/>: a decode batch splits every sequence's cache into the splits of the longest
    /// context (shorter contexts into as many shorter pieces, some possibly empty), any other batch gets tiles of as many tokens
    /// as the rows allow within each sequence and one split.
    /// </summary>
    public static (AttentionLaunchDims Dims, int[] Units) Plan(GatedAttentionShape s, SequenceBatch batch, int pageSize)
    {
        int kvTile = KvTile(s.HeadDim);
        var units = new List<int>();
        int tokensPerTile = 1, splits = 1;
        if (batch.IsDecode)
        {
            splits = Splits(s, batch.MaxContext);
            for (int b = 0; b < batch.Count; b++)
            {
                int context = batch.ContextLengths[b];
                int length = ((context + splits - 1) / splits + kvTile - 1) / kvTile * kvTile;
                for (int split = 0; split < splits; split++)
                {
                    int start = Math.Min(context, split * length);
                    units.AddRange([b, 0, split, start, Math.Min(context, start + length)]);
                }
            }
        }
        else
        {
            tokensPerTile = Math.Max(1, Math.Min(batch.MaxLength, MaxRows(s.HeadDim) / s.Group));
            for (int b = 0; b < batch.Count; b++)
            {
                int length = batch.Length(b), first = batch.ContextLengths[b] - length;
                for (int t0 = 0; t0 < length; t0 += tokensPerTile)
                {
                    units.AddRange([b, t0, 0, 0, first + Math.Min(length, t0 + tokensPerTile)]);
                }
            }
        }

        var dims = new AttentionLaunchDims(batch.TotalTokens, s.QueryHeads, s.KeyValueHeads, s.HeadDim, s.RotaryDim, pageSize, tokensPerTile, kvTile,
            splits, units.Count / AttentionLaunchDims.UnitInts, s.Scale, s.Eps, batch.Layout);
        return (dims, [.. units]);
    }
}
