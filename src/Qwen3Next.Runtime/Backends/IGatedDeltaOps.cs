namespace Qwen3Next.Backends;

public enum GatedDeltaMode
{
    /// <summary>One token at a time, the decode form.</summary>
    Recurrent,

    /// <summary>The WY chunked form (chunk 64), the prefill form.</summary>
    Chunked,
}

/// <summary>Weights of a Gated DeltaNet mixer other than its two input projections and out_proj.</summary>
public sealed record GatedDeltaNetWeights(DeviceWeight Conv, DeviceWeight ALog, DeviceWeight DtBias, DeviceWeight Norm) : IDisposable
{
    public void Dispose()
    {
        Conv.Dispose();
        ALog.Dispose();
        DtBias.Dispose();
        Norm.Dispose();
    }
}

/// <summary>Per-sequence state of one linear attention layer.</summary>
/// <param name="Conv"><c>[conv_dim, K]</c>: the last K pre-conv inputs, column K-1 newest.</param>
/// <param name="Recurrent"><c>[Hv, Dk, Dv]</c>: the delta-rule state, key index first.</param>
public sealed record LinearAttentionState(DeviceTensor Conv, DeviceTensor Recurrent) : IDisposable
{
    public void Dispose()
    {
        Conv.Dispose();
        Recurrent.Dispose();
    }
}

public interface IGatedDeltaOps
{
    /// <summary>
    /// The bare gated delta rule. q, k <c>[T, Hk, Dk]</c>; v <c>[T, Hv, Dv]</c>; g, beta <c>[T, Hv]</c>;
    /// state <c>[Hv, Dk, Dv]</c> is read as the initial state and overwritten with the final one;
    /// o <c>[T, Hv, Dv]</c>. With <paramref name="l2Normalize"/> q and k are l2-normalised first;
    /// q is always multiplied by <paramref name="scale"/>.
    /// </summary>
    void Rule(GatedDeltaShape shape, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor g, DeviceTensor beta,
        DeviceTensor state, DeviceTensor o, bool l2Normalize, float scale, GatedDeltaMode mode);

    /// <summary>
    /// Everything between the input projections and out_proj: ungroup qkvz <c>[T, QkvzWidth]</c> and
    /// ba <c>[T, BaWidth]</c>, causal conv1d + SiLU continuing from the conv state, gates, q/k l2 norm,
    /// the delta rule continuing from the recurrent state (chunked when T &gt; 1), and the gated RMSNorm.
    /// Writes y <c>[T, Hv·Dv]</c> and advances <paramref name="state"/>.
    /// </summary>
    void Mixer(GatedDeltaNetShape shape, int tokens, DeviceTensor qkvz, DeviceTensor ba, GatedDeltaNetWeights weights,
        LinearAttentionState state, DeviceTensor y);

    /// <summary>
    /// The bare rule over a packed batch: <c>shape.Tokens = batch.TotalTokens</c>; sequence b continues from state
    /// <c>states[batch.SlotIds[b]]</c> (<c>[slots, Hv, Dk, Dv]</c>, a zeroed slot starts a sequence) and leaves its final
    /// state there. Chunks never cross a sequence boundary.
    /// </summary>
    void Rule(GatedDeltaShape shape, SequenceBatch batch, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor g, DeviceTensor beta,
        DeviceTensor states, DeviceTensor o, bool l2Normalize, float scale, GatedDeltaMode mode);

    /// <summary>
    /// The mixer core over a packed batch: each sequence's conv window and delta-rule state continue from its slot of
    /// <paramref name="states"/> (<c>batch.SlotIds</c>) and are left there; qkvz, ba and y hold <c>batch.TotalTokens</c> rows.
    /// A decode batch (one token per sequence) takes the recurrent form, any other the chunked one.
    /// </summary>
    void Mixer(GatedDeltaNetShape shape, SequenceBatch batch, DeviceTensor qkvz, DeviceTensor ba, GatedDeltaNetWeights weights,
        LinearAttentionStatePool states, DeviceTensor y);
}
