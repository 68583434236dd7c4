namespace Qwen3Next.Backends;

/// <summary>Sizes of a gated delta rule call. Value head h reads key head h / (Hv / Hk).</summary>
public readonly record struct GatedDeltaShape(int Tokens, int KeyHeads, int ValueHeads, int KeyDim, int ValueDim)
{
    public int Group => ValueHeads / KeyHeads;
}

/// <summary>Sizes of one Gated DeltaNet mixer (linear attention layer).</summary>
public readonly record struct GatedDeltaNetShape(int Hidden, int KeyHeads, int ValueHeads, int KeyDim, int ValueDim, int ConvKernel, float Eps)
{
    public int Group => ValueHeads / KeyHeads;

    /// <summary>Rows of in_proj_qkvz: per key head [q Dk | k Dk | v r·Dv | z r·Dv].</summary>
    public int QkvzWidth => KeyHeads * (2 * KeyDim + 2 * Group * ValueDim);

    /// <summary>Rows of in_proj_ba: per key head [b r | a r].</summary>
    public int BaWidth => 2 * ValueHeads;

    /// <summary>Conv channels [q Hk·Dk | k Hk·Dk | v Hv·Dv].</summary>
    public int ConvDim => 2 * KeyHeads * KeyDim + ValueHeads * ValueDim;

    public int ValueWidth => ValueHeads * ValueDim;

    public GatedDeltaShape Rule(int tokens) => new(tokens, KeyHeads, ValueHeads, KeyDim, ValueDim);
}

/// <summary>Sizes of one gated attention mixer.</summary>
public readonly record struct GatedAttentionShape(int Hidden, int QueryHeads, int KeyValueHeads, int HeadDim, int RotaryDim, float RopeTheta, float Eps)
{
    public int Group => QueryHeads / KeyValueHeads;

    public float Scale => 1f / MathF.Sqrt(HeadDim);

    /// <summary>Width of q_proj's output: per head [query D | gate D].</summary>
    public int QueryGateWidth => 2 * QueryHeads * HeadDim;

    public int KeyValueWidth => KeyValueHeads * HeadDim;

    public int OutputWidth => QueryHeads * HeadDim;
}

/// <summary>Sizes of one sparse MoE block.</summary>
public readonly record struct MoeShape(int Hidden, int Experts, int TopK, int ExpertIntermediate, int SharedIntermediate, bool NormalizeTopK);
