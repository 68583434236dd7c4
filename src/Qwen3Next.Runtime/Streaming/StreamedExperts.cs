using ILGPU;
using ILGPU.Runtime;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Ops.Moe;

namespace Qwen3Next.Streaming;

/// <summary>
/// One layer's routed experts served from the shared <see cref="ExpertCache"/>. After routing, the selected ids
/// come back to the host (the one readback streaming needs: copies are issued from the host), the cache makes
/// them resident, and <see cref="SlotOf"/> is rewritten so the grouped kernels read the right slots. The readback
/// also orders slot reuse: every earlier kernel has finished before a slot is overwritten.
/// </summary>
public sealed class StreamedExperts : IlgpuExpertSet
{
    private readonly ExpertCache cache;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> slotOf;
    private readonly int[] hostSlotOf;

    public StreamedExperts(IlgpuBackend backend, ExpertCache cache, int layer, MoeShape shape)
    {
        this.cache = cache;
        Layer = layer;
        Shape = shape;
        hostSlotOf = new int[shape.Experts];
        slotOf = backend.Accelerator.Allocate1D<int>(shape.Experts);
        slotOf.MemSetToZero(backend.Stream);
    }

    public int Layer { get; }

    public override MoeShape Shape { get; }

    public override ArrayView<ushort> GateUp => cache.GateUp;

    public override ArrayView<ushort> Down => cache.Down;

    public override ArrayView<int> SlotOf => slotOf.View;

    public override void Prepare(IlgpuBackend backend, ArrayView<int> selected, int pairs)
    {
        var ids = new int[pairs];
        selected.SubView(0, pairs).CopyToCPU(backend.Stream, ids);
        backend.Stream.Synchronize();
        var distinct = ids.Distinct().Order().ToArray();
        var slots = cache.Acquire(Layer, distinct);
        for (int i = 0; i < distinct.Length; i++)
        {
            hostSlotOf[distinct[i]] = slots[i];
        }

        slotOf.View.CopyFromCPU(backend.Stream, hostSlotOf);
    }

    protected override void Release() => slotOf.Dispose();
}

/// <summary>Expert streaming for an ILGPU backend: the host store, the device cache and the layers registered so far.</summary>
public sealed class ExpertStreaming(IlgpuBackend backend, MoeShape shape, int slots, IExpertReplacementPolicy? policy = null) : IExpertStreaming
{
    private ExpertCache? cache;

    public HostExpertStore Store { get; } = new(backend.Device, shape);

    public int Slots { get; } = slots;

    /// <summary>The shape of every streamed MoE layer.</summary>
    public MoeShape Shape { get; } = shape;

    public ExpertCache Cache => cache ??= new ExpertCache(backend.Device, Store, Slots, policy);

    public StreamingStatistics Statistics => Cache.Statistics;

    public void ResetStatistics() => Statistics.Reset();

    /// <summary>The host-driven cache does not count selections per expert.</summary>
    public ExpertRoutingCounts? RoutingCounts() => null;

    /// <summary>Copies a layer's experts to pinned host memory and returns the expert set the MoE op will use.</summary>
    public StreamedExperts Register(MoeShape layerShape, IReadOnlyList<ExpertTensors> experts, IProgress<long>? bytesLoaded = null)
    {
        if (layerShape != Shape)
        {
            throw new ArgumentException($"Every MoE layer must have the streaming shape {Shape}; got {layerShape}.");
        }

        int layer = Store.Add(experts, bytesLoaded);
        return new StreamedExperts(backend, Cache, layer, Shape);
    }

    public void Dispose()
    {
        cache?.Dispose();
        Store.Dispose();
    }
}
