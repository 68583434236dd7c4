using Qwen3Next.Backends;

namespace Qwen3Next.Ops.Attention;

/// <summary>
/// Host-side choice of tiles and KV splits for <see cref="FlashAttentionKernels"/>, and the shape checks
/// that keep every size inside the kernels' compile-time shared-memory arrays.
/// </summary>
public static class AttentionTiling
{
    /// <summary>Most KV splits of one decode step; enough to give an H200's 132 SMs work with 2 kv heads.</summary>
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

    /// <summary>Prefill: as many tokens per tile as the rows allow (at most T), one split.</summary>
    public static AttentionLaunchDims Prefill(GatedAttentionShape s, int tokens, int cached, int capacity)
    {
        int tokensPerTile = Math.Max(1, Math.Min(tokens, MaxRows(s.HeadDim) / s.Group));
        int kvTile = KvTile(s.HeadDim);
        return new AttentionLaunchDims(tokens, cached, s.QueryHeads, s.KeyValueHeads, s.HeadDim, s.RotaryDim, capacity,
            tokensPerTile, kvTile, 1, cached + tokens, s.Scale, s.Eps);
    }

    /// <summary>
    /// Decode (T = 1): split the visible cache into ≤ MaxSplits pieces of at least MinSplitLength positions,
    /// each a whole number of KV tiles, so long caches spread over many groups and short ones stay in one.
    /// </summary>
    public static AttentionLaunchDims Decode(GatedAttentionShape s, int cached, int capacity)
    {
        int visible = cached + 1;
        int kvTile = KvTile(s.HeadDim);
        int length = Math.Max(MinSplitLength, (visible + MaxSplits - 1) / MaxSplits);
        length = (length + kvTile - 1) / kvTile * kvTile;
        int splits = (visible + length - 1) / length;
        return new AttentionLaunchDims(1, cached, s.QueryHeads, s.KeyValueHeads, s.HeadDim, s.RotaryDim, capacity,
            1, kvTile, splits, length, s.Scale, s.Eps);
    }
}
