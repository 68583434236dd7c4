using ILGPU.Runtime;
using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Streaming;

/// <summary>
/// The routed experts of every layer in page-locked host memory (pinned on CUDA, so copies are true async DMA;
/// ordinary memory on the CPU accelerator), laid out as the device slots want them: per layer
/// <c>GateUp [E, 2·I·H]</c> and <c>Down [E, H·I]</c> bf16. Filled tensor by tensor from the memory-mapped
/// checkpoint, so no second full copy of the checkpoint is ever held in managed memory.
/// </summary>
public sealed class HostExpertStore : IDisposable
{
    private readonly Accelerator accelerator;
    private readonly List<(PageLockedArray1D<ushort> GateUp, PageLockedArray1D<ushort> Down)> layers = [];

    public HostExpertStore(Accelerator accelerator, MoeShape shape)
    {
        this.accelerator = accelerator;
        Shape = shape;
    }

    public MoeShape Shape { get; }

    public int Layers => layers.Count;

    public long GateUpStride => 2L * Shape.ExpertIntermediate * Shape.Hidden;

    public long DownStride => (long)Shape.Hidden * Shape.ExpertIntermediate;

    /// <summary>Bytes of one expert (gate + up + down).</summary>
    public long ExpertBytes => 2 * (GateUpStride + DownStride);

    public long TotalBytes => Layers * Shape.Experts * ExpertBytes;

    /// <summary>Copies one layer's experts in; returns its layer index in this store.</summary>
    public int Add(IReadOnlyList<ExpertTensors> experts, IProgress<long>? bytesLoaded = null)
    {
        if (experts.Count != Shape.Experts)
        {
            throw new ArgumentException($"A MoE layer has {experts.Count} experts; the shape says {Shape.Experts}.");
        }

        var gateUp = accelerator.AllocatePageLocked1D<ushort>(Shape.Experts * GateUpStride);
        var down = accelerator.AllocatePageLocked1D<ushort>(Shape.Experts * DownStride);
        long half = GateUpStride / 2;
        for (int e = 0; e < experts.Count; e++)
        {
            Copy(experts[e].Gate, gateUp.Span.Slice((int)(e * GateUpStride), (int)half));
            Copy(experts[e].Up, gateUp.Span.Slice((int)((e * GateUpStride) + half), (int)half));
            Copy(experts[e].Down, down.Span.Slice((int)(e * DownStride), (int)DownStride));
            bytesLoaded?.Report(ExpertBytes);
        }

        layers.Add((gateUp, down));
        return layers.Count - 1;
    }

    public ReadOnlySpan<ushort> GateUp(ExpertKey key) => layers[key.Layer].GateUp.Span.Slice((int)(key.Expert * GateUpStride), (int)GateUpStride);

    public ReadOnlySpan<ushort> Down(ExpertKey key) => layers[key.Layer].Down.Span.Slice((int)(key.Expert * DownStride), (int)DownStride);

    public void Dispose()
    {
        foreach (var (gateUp, down) in layers)
        {
            gateUp.Dispose();
            down.Dispose();
        }

        layers.Clear();
    }

    private static void Copy(TensorView view, Span<ushort> destination)
    {
        if (view.DType != DType.BF16 || view.ElementCount != destination.Length)
        {
            throw new TensorShapeException($"expected {destination.Length} BF16 values, found {view.ElementCount} {view.DType}", view.File, view.Name);
        }

        view.AsBF16().CopyTo(destination);
    }
}
