using ILGPU;
using Qwen3Next.Cuda;
using Qwen3Next.Device;
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
    private readonly ComputeDevice device;
    private readonly List<(PinnedHostBuffer<ushort> GateUp, PinnedHostBuffer<ushort> Down)> layers = [];

    public HostExpertStore(ComputeDevice device, MoeShape shape)
    {
        this.device = device;
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

        var gateUp = PinnedHostBuffer<ushort>.Allocate(device, Shape.Experts * GateUpStride);
        var down = PinnedHostBuffer<ushort>.Allocate(device, Shape.Experts * DownStride);
        long half = GateUpStride / 2;
        for (int e = 0; e < experts.Count; e++)
        {
            Copy(experts[e].Gate, gateUp.Slice(e * GateUpStride, (int)half));
            Copy(experts[e].Up, gateUp.Slice((e * GateUpStride) + half, (int)half));
            Copy(experts[e].Down, down.Slice(e * DownStride, (int)DownStride));
            bytesLoaded?.Report(ExpertBytes);
        }

        layers.Add((gateUp, down));
        return layers.Count - 1;
    }

    /// <summary>Queues the copy of one expert's gate+up and down rows into device slots on <paramref name="stream"/>.</summary>
    public void CopyToDevice(ExpertKey key, ArrayView<ushort> gateUpSlot, ArrayView<ushort> downSlot, ILGPU.Runtime.AcceleratorStream stream)
    {
        layers[key.Layer].GateUp.CopyToAsync(key.Expert * GateUpStride, gateUpSlot, stream);
        layers[key.Layer].Down.CopyToAsync(key.Expert * DownStride, downSlot, stream);
    }

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
