using Qwen3Next.Backends;

namespace Qwen3Next.Graph;

/// <summary>The full-attention token mixer: q (with its gate), k and v projections, the fused core, o_proj.</summary>
public sealed class GatedAttentionMixer(GatedAttentionShape shape, DeviceWeight q, DeviceWeight k, DeviceWeight v, DeviceWeight o, DeviceWeight qNorm, DeviceWeight kNorm) : IDisposable
{
    public GatedAttentionShape Shape { get; } = shape;

    public static GatedAttentionMixer Load(IKernelBackend backend, GatedAttentionShape shape, TensorLookup t)
        => new(shape, backend.LoadWeight(t["q_proj.weight"]), backend.LoadWeight(t["k_proj.weight"]), backend.LoadWeight(t["v_proj.weight"]),
            backend.LoadWeight(t["o_proj.weight"]), backend.LoadWeight(t["q_norm.weight"]), backend.LoadWeight(t["k_norm.weight"]));

    /// <summary>A contiguous cache of the backend's element type (<see cref="IKernelBackend.KvCacheElement"/>), zeroed.</summary>
    public KvCache CreateCache(IKernelBackend backend, int capacity)
    {
        var element = backend.KvCacheElement(Shape);
        long size = element.Words((long)Shape.KeyValueHeads * capacity * Shape.HeadDim);
        var keys = backend.Allocate(size);
        try
        {
            return new KvCache(keys, backend.Allocate(size), capacity, element);
        }
        catch
        {
            keys.Dispose();
            throw;
        }
    }

    /// <summary>Key and value page pools of <paramref name="pages"/> pages of <paramref name="pageSize"/> rows, zeroed, of
    /// the backend's element type (<see cref="IKernelBackend.KvCacheElement"/>).</summary>
    public PagedKvCache CreatePagedCache(IKernelBackend backend, int pages, int pageSize)
    {
        var element = backend.KvCacheElement(Shape);
        long size = element.Words((long)pages * Shape.KeyValueHeads * pageSize * Shape.HeadDim);
        var keys = backend.Allocate(size);
        try
        {
            return new PagedKvCache(keys, backend.Allocate(size), pages, pageSize, ownsTensors: true, element);
        }
        catch
        {
            keys.Dispose();
            throw;
        }
    }

    /// <summary>y <c>[T, hidden]</c> from the normalised x <c>[T, hidden]</c> of a packed batch (added into y when
    /// <paramref name="accumulate"/>), appending to its paged cache.</summary>
    public void Forward(IKernelBackend backend, DeviceTensor x, SequenceBatch batch, PagedKvCache cache, DeviceTensor y, bool accumulate = false)
    {
        int tokens = batch.TotalTokens;
        using var qg = backend.Allocate((long)tokens * Shape.QueryGateWidth);
        using var keys = backend.Allocate((long)tokens * Shape.KeyValueWidth);
        using var values = backend.Allocate((long)tokens * Shape.KeyValueWidth);
        using var attended = backend.Allocate((long)tokens * Shape.OutputWidth);
        backend.Basic.MatMul(x, q, qg, tokens);
        backend.Basic.MatMul(x, k, keys, tokens);
        backend.Basic.MatMul(x, v, values, tokens);
        backend.Attention.Mixer(Shape, batch, qg, keys, values, qNorm, kNorm, cache, attended);
        ResidualProjection.Apply(backend, attended, o, y, tokens, accumulate);
    }

    public void Dispose()
    {
        q.Dispose();
        k.Dispose();
        v.Dispose();
        o.Dispose();
        qNorm.Dispose();
        kNorm.Dispose();
    }
}
