using Qwen3Next.Backends;

namespace Qwen3Next.Graph;

/// <summary>The sparse MoE block: router, routed experts, shared expert and its gate.</summary>
public sealed class MoeBlock(MoeShape shape, MoeWeights weights) : IDisposable
{
    public MoeShape Shape { get; } = shape;

    public MoeWeights Weights { get; } = weights;

    public static MoeBlock Load(IKernelBackend backend, MoeShape shape, TensorLookup t)
    {
        var experts = Enumerable.Range(0, shape.Experts)
            .Select(e => new ExpertTensors(t[$"experts.{e}.gate_proj.weight"], t[$"experts.{e}.up_proj.weight"], t[$"experts.{e}.down_proj.weight"]))
            .ToArray();
        return new MoeBlock(shape, new MoeWeights(backend.LoadWeight(t["gate.weight"]), backend.LoadExperts(shape, experts),
            backend.LoadWeight(t["shared_expert.gate_proj.weight"]), backend.LoadWeight(t["shared_expert.up_proj.weight"]),
            backend.LoadWeight(t["shared_expert.down_proj.weight"]), backend.LoadWeight(t["shared_expert_gate.weight"])));
    }

    /// <summary>y (+)= the block's output for x (<paramref name="accumulate"/>: the residual add is part of the block).</summary>
    public void Forward(IKernelBackend backend, DeviceTensor x, int tokens, DeviceTensor y, MoeRouting? routing = null, bool accumulate = false)
        => backend.Moe.Block(Shape, tokens, x, Weights, y, routing, accumulate);

    public void Dispose() => Weights.Dispose();
}
