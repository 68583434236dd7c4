using Qwen3Next.Backends;

namespace Qwen3Next.Ops.Attention;

/// <summary>
/// Sizes and tiling of one fused attention launch over a packed batch and a paged cache, passed to the kernels as a
/// single value with the batch's int32 arrays (<see cref="Batch"/> gives their offsets in that buffer).
/// Layouts: qg <c>[T, Hq, 2D]</c> (per head [query | gate]); k, v <c>[T, Hkv, D]</c>; normalised queries <c>[T, Hq, D]</c>;
/// pages <c>[pages, Hkv, PageSize, D]</c>; y <c>[T, Hq, D]</c>. A flash work unit (kv head, entry of the unit list) covers
/// TokensPerTile tokens of one sequence and one KV range; its Rows = TokensPerTile·Group query rows are ordered
/// row = tokenInTile·Group + headInGroup, so one KV tile serves the whole GQA group.
/// </summary>
public readonly struct AttentionLaunchDims
{
    public AttentionLaunchDims(int tokens, int queryHeads, int keyValueHeads, int headDim, int rotaryDim, int pageSize,
        int tokensPerTile, int kvTile, int splits, int units, float scale, float eps, BatchLayout batch)
    {
        Tokens = tokens;
        QueryHeads = queryHeads;
        KeyValueHeads = keyValueHeads;
        HeadDim = headDim;
        RotaryDim = rotaryDim;
        PageSize = pageSize;
        TokensPerTile = tokensPerTile;
        KvTile = kvTile;
        Splits = splits;
        Units = units;
        Scale = scale;
        Eps = eps;
        Batch = batch;
    }

    public int Tokens { get; }

    public int QueryHeads { get; }

    public int KeyValueHeads { get; }

    public int HeadDim { get; }

    public int RotaryDim { get; }

    /// <summary>Rows per page of the cache.</summary>
    public int PageSize { get; }

    public int TokensPerTile { get; }

    /// <summary>Cached keys per shared-memory tile.</summary>
    public int KvTile { get; }

    /// <summary>KV splits per decode token; 1 means the flash kernel normalises, gates and writes y itself.</summary>
    public int Splits { get; }

    /// <summary>Entries of the unit list, each <see cref="UnitInts"/> ints: (sequence, first token of the tile within it,
    /// split, first cache index, end cache index).</summary>
    public int Units { get; }

    public float Scale { get; }

    public float Eps { get; }

    /// <summary>Offsets of cu_seqlens, positions, context lengths and block tables in the batch buffer.</summary>
    public BatchLayout Batch { get; }

    public const int UnitInts = 5;

    public int Group => QueryHeads / KeyValueHeads;

    public int Rows => TokensPerTile * Group;
}
