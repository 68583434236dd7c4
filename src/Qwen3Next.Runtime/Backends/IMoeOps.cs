namespace Qwen3Next.Backends;

/// <summary>All weights of one sparse MoE block.</summary>
public sealed record MoeWeights(DeviceWeight Router, ExpertWeights Experts, DeviceWeight SharedGate, DeviceWeight SharedUp,
    DeviceWeight SharedDown, DeviceWeight SharedExpertGate) : IDisposable
{
    public void Dispose()
    {
        Router.Dispose();
        Experts.Dispose();
        SharedGate.Dispose();
        SharedUp.Dispose();
        SharedDown.Dispose();
        SharedExpertGate.Dispose();
    }
}

/// <summary>Routing decisions of a MoE call, filled when the caller asks for them (conformance, statistics).</summary>
public sealed class MoeRouting(int tokens, MoeShape shape)
{
    /// <summary><c>[T, E]</c> raw router logits.</summary>
    public float[] Logits { get; } = new float[tokens * shape.Experts];

    /// <summary><c>[T, k]</c> selected experts, descending probability (ties: lower id; NaN last), always in [0, E).</summary>
    public int[] Selected { get; } = new int[tokens * shape.TopK];

    /// <summary><c>[T, k]</c> renormalised routing weights aligned with <see cref="Selected"/>.</summary>
    public float[] Weights { get; } = new float[tokens * shape.TopK];
}

public interface IMoeOps
{
    /// <summary>
    /// y <c>[T, H]</c> = Σ top-k w_j · expert_j(x) + sigmoid(shared_gate·x) · shared(x), for x <c>[T, H]</c>; with
    /// <paramref name="accumulate"/>, y += that (the decoder layer's residual add, folded into the block's last kernel
    /// where the backend can). y must not alias x.
    /// Non-finite router logits make every probability NaN: experts 0..k−1 are then selected (NaN ranks below every
    /// number, ties by id) with NaN weights, so y is NaN — never an expert id outside [0, E).
    /// </summary>
    void Block(MoeShape shape, int tokens, DeviceTensor x, MoeWeights weights, DeviceTensor y, MoeRouting? routing = null, bool accumulate = false);
}
