using Qwen3Next.Backends;

namespace Qwen3Next.Graph;

/// <summary>The linear-attention token mixer: in_proj_qkvz and in_proj_ba, the fused core, out_proj.</summary>
public sealed class GatedDeltaNetMixer(GatedDeltaNetShape shape, DeviceWeight qkvz, DeviceWeight ba, DeviceWeight outProj, GatedDeltaNetWeights core) : IDisposable
{
    public GatedDeltaNetShape Shape { get; } = shape;

    public static GatedDeltaNetMixer Load(IKernelBackend backend, GatedDeltaNetShape shape, TensorLookup t)
        => new(shape, backend.LoadWeight(t["in_proj_qkvz.weight"]), backend.LoadWeight(t["in_proj_ba.weight"]), backend.LoadWeight(t["out_proj.weight"]),
            new GatedDeltaNetWeights(backend.LoadWeight(t["conv1d.weight"]), backend.LoadWeight(t["A_log"]), backend.LoadWeight(t["dt_bias"]), backend.LoadWeight(t["norm.weight"])));

    public LinearAttentionState CreateState(IKernelBackend backend)
        => new(backend.Allocate((long)Shape.ConvDim * Shape.ConvKernel), backend.Allocate((long)Shape.ValueHeads * Shape.KeyDim * Shape.ValueDim));

    /// <summary>A pool of <paramref name="slots"/> zeroed states (conv <c>[slots, conv_dim, K]</c>, recurrent <c>[slots, Hv, Dk, Dv]</c>).</summary>
    public LinearAttentionStatePool CreateStatePool(IKernelBackend backend, int slots)
    {
        var conv = backend.Allocate((long)slots * Shape.ConvDim * Shape.ConvKernel);
        try
        {
            return new LinearAttentionStatePool(conv, backend.Allocate((long)slots * Shape.ValueHeads * Shape.KeyDim * Shape.ValueDim), slots);
        }
        catch
        {
            conv.Dispose();
            throw;
        }
    }

    /// <summary>y <c>[T_total, hidden]</c> of a packed batch from the normalised x (added into y when <paramref name="accumulate"/>),
    /// advancing each sequence's slot.</summary>
    public void Forward(IKernelBackend backend, DeviceTensor x, SequenceBatch batch, LinearAttentionStatePool states, DeviceTensor y, bool accumulate = false)
    {
        int tokens = batch.TotalTokens;
        using var projected = backend.Allocate((long)tokens * Shape.QkvzWidth);
        using var gates = backend.Allocate((long)tokens * Shape.BaWidth);
        using var mixed = backend.Allocate((long)tokens * Shape.ValueWidth);
        backend.Basic.MatMul(x, qkvz, projected, tokens);
        backend.Basic.MatMul(x, ba, gates, tokens);
        backend.GatedDelta.Mixer(Shape, batch, projected, gates, core, states, mixed);
        ResidualProjection.Apply(backend, mixed, outProj, y, tokens, accumulate);
    }

    /// <summary>y <c>[T, hidden]</c> from the normalised x <c>[T, hidden]</c>, advancing the state.</summary>
    public void Forward(IKernelBackend backend, DeviceTensor x, int tokens, LinearAttentionState state, DeviceTensor y)
    {
        using var projected = backend.Allocate((long)tokens * Shape.QkvzWidth);
        using var gates = backend.Allocate((long)tokens * Shape.BaWidth);
        using var mixed = backend.Allocate((long)tokens * Shape.ValueWidth);
        backend.Basic.MatMul(x, qkvz, projected, tokens);
        backend.Basic.MatMul(x, ba, gates, tokens);
        backend.GatedDelta.Mixer(Shape, tokens, projected, gates, core, state, mixed);
        backend.Basic.MatMul(mixed, outProj, y, tokens);
    }

    public void Dispose()
    {
        qkvz.Dispose();
        ba.Dispose();
        outProj.Dispose();
        core.Dispose();
    }
}
