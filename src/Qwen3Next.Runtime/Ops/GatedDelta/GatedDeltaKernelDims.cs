using Qwen3Next.Backends;

namespace Qwen3Next.Ops.GatedDelta;

/// <summary>
/// Sizes passed to the gated delta kernels by value (an unmanaged struct, so ILGPU can take it as a kernel argument),
/// with the offsets of the packed batch's arrays (<see cref="Batch"/>) in the int buffer the kernels also get.
/// Value head h reads key head h / Group. <see cref="PaddedTokens"/> is the batch's chunk count times the chunk size:
/// the row count of the per-head chunk scratch (gamma, u, w, Aqk), chunk c owning rows c·64 .. c·64+63.
/// </summary>
public struct GatedDeltaKernelDims
{
    public int Tokens;
    public int KeyHeads;
    public int ValueHeads;
    public int KeyDim;
    public int ValueDim;
    public int PaddedTokens;
    public BatchLayout Batch;

    public GatedDeltaKernelDims(SequenceBatch batch, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        Tokens = batch.TotalTokens;
        KeyHeads = keyHeads;
        ValueHeads = valueHeads;
        KeyDim = keyDim;
        ValueDim = valueDim;
        PaddedTokens = batch.ChunkCount * GatedDeltaChunkKernels.ChunkSize;
        Batch = batch.Layout;
    }

    public readonly int Group => ValueHeads / KeyHeads;
}

/// <summary>
/// Sizes of the mixer's grouped projections, by value for the kernels. qkvz rows hold, per key head, a group of
/// <c>[q Dk | k Dk | v r·Dv | z r·Dv]</c> (<see cref="GroupWidth"/> wide); ba rows hold per key head <c>[b r | a r]</c>.
/// </summary>
public struct GatedDeltaMixerDims
{
    public GatedDeltaKernelDims Rule;
    public int ConvKernel;
    public int ConvDim;
    public int QkvzWidth;
    public int GroupWidth;
    public float NormEps;
    public float Scale;

    public GatedDeltaMixerDims(GatedDeltaKernelDims rule, int convKernel, float normEps)
    {
        Rule = rule;
        ConvKernel = convKernel;
        ConvDim = (2 * rule.KeyHeads * rule.KeyDim) + (rule.ValueHeads * rule.ValueDim);
        GroupWidth = (2 * rule.KeyDim) + (2 * rule.Group * rule.ValueDim);
        QkvzWidth = rule.KeyHeads * GroupWidth;
        NormEps = normEps;
        Scale = 1f / MathF.Sqrt(rule.KeyDim);
    }

    /// <summary>Column of value head h's z values (then Dv of them) inside a qkvz row.</summary>
    public readonly int ZColumn(int h) => ((h / Rule.Group) * GroupWidth) + (2 * Rule.KeyDim) + (Rule.Group * Rule.ValueDim) + ((h % Rule.Group) * Rule.ValueDim);

    /// <summary>Column of value head h's v values inside a qkvz row.</summary>
    public readonly int VColumn(int h) => ((h / Rule.Group) * GroupWidth) + (2 * Rule.KeyDim) + ((h % Rule.Group) * Rule.ValueDim);
}
