namespace Qwen3Next.Ops.Attention;

/// <summary>
/// Sizes and tiling of one fused attention launch, passed to the kernels as a single value.
/// Layouts: qg <c>[T, Hq, 2D]</c> (per head [query | gate]); k, v <c>[T, Hkv, D]</c>; normalised queries
/// <c>[T, Hq, D]</c>; cache <c>[Hkv, Capacity, D]</c>; y <c>[T, Hq, D]</c>. Token t sits at position Cached + t.
/// A flash work unit is (kv head, tile of TokensPerTile tokens, KV split); its Rows = TokensPerTile·Group
/// query rows are ordered row = tokenInTile·Group + headInGroup, so one KV tile serves the whole GQA group.
/// </summary>
public readonly struct AttentionLaunchDims
{
    public AttentionLaunchDims(int tokens, int cached, int queryHeads, int keyValueHeads, int headDim, int rotaryDim, int capacity,
        int tokensPerTile, int kvTile, int splits, int splitLength, float scale, float eps)
    {
        Tokens = tokens;
        Cached = cached;
        QueryHeads = queryHeads;
        KeyValueHeads = keyValueHeads;
        HeadDim = headDim;
        RotaryDim = rotaryDim;
        Capacity = capacity;
        TokensPerTile = tokensPerTile;
        KvTile = kvTile;
        Splits = splits;
        SplitLength = splitLength;
        Scale = scale;
        Eps = eps;
    }

    public int Tokens { get; }

    /// <summary>Tokens in the cache before this call; the position of token 0.</summary>
    public int Cached { get; }

    public int QueryHeads { get; }

    public int KeyValueHeads { get; }

    public int HeadDim { get; }

    public int RotaryDim { get; }

    /// <summary>Rows of the cache per kv head.</summary>
    public int Capacity { get; }

    public int TokensPerTile { get; }

    /// <summary>Cached keys per shared-memory tile.</summary>
    public int KvTile { get; }

    /// <summary>KV splits per query tile; 1 means the flash kernel normalises, gates and writes y itself.</summary>
    public int Splits { get; }

    /// <summary>Cache positions per split (a multiple of KvTile).</summary>
    public int SplitLength { get; }

    public float Scale { get; }

    public float Eps { get; }

    public int Group => QueryHeads / KeyValueHeads;

    public int Rows => TokensPerTile * Group;

    public int QueryTiles => (Tokens + TokensPerTile - 1) / TokensPerTile;
}
