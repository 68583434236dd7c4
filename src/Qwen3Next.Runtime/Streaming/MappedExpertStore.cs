using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Cuda;

namespace Qwen3Next.Streaming;

/// <summary>
/// The routed experts of every layer for the ptx backend, in page-locked host memory that is also mapped into the
/// device address space (<c>cuMemHostAlloc(DEVICEMAP)</c>): kernels read a missed expert straight from it, and copy
/// kernels move experts from it into device slots. One allocation per layer, laid out as the slots want it:
/// <c>gate_up [E, 2I, H]</c> then <c>down [E, H, I]</c>, bf16. Filled tensor by tensor from the memory-mapped
/// checkpoint, so no second copy of the checkpoint is held in managed memory.
/// </summary>
internal sealed unsafe class MappedExpertStore(ICudaDriver driver, MoeShape shape) : IDisposable
{
    private readonly List<(IntPtr Host, DevicePointer Device)> layers = [];

    public MoeShape Shape { get; } = shape;

    public int Layers => layers.Count;

    public long GateUpElements => 2L * Shape.ExpertIntermediate * Shape.Hidden;

    public long DownElements => (long)Shape.Hidden * Shape.ExpertIntermediate;

    /// <summary>Bytes of one expert (gate + up + down).</summary>
    public long ExpertBytes => 2 * (GateUpElements + DownElements);

    private long LayerBytes => Shape.Experts * ExpertBytes;

    /// <summary>Copies one layer's experts in; returns the layer's index in this store.</summary>
    public int Add(IReadOnlyList<ExpertTensors> experts)
    {
        if (experts.Count != Shape.Experts)
        {
            throw new ArgumentException($"A MoE layer has {experts.Count} experts; the streaming shape says {Shape.Experts}.", nameof(experts));
        }

        int layer = layers.Count;
        var host = driver.AllocateHost(LayerBytes, mapped: true, $"mapped routed experts of MoE layer {layer}");
        try
        {
            int h = Shape.Hidden, i = Shape.ExpertIntermediate;
            for (int e = 0; e < experts.Count; e++)
            {
                Copy(experts[e].Gate, host, GateUp(e), i, h);
                Copy(experts[e].Up, host, GateUp(e) + ((long)i * h), i, h);
                Copy(experts[e].Down, host, Down(e), h, i);
            }

            layers.Add((host, driver.MappedDevicePointer(host, $"mapped routed experts of MoE layer {layer}")));
            return layer;
        }
        catch
        {
            driver.FreeHost(host, $"mapped routed experts of MoE layer {layer}");
            throw;
        }
    }

    /// <summary>Element offset of expert <paramref name="expert"/>'s gate_up rows in its layer's allocation.</summary>
    public long GateUp(int expert) => expert * GateUpElements;

    /// <summary>Element offset of expert <paramref name="expert"/>'s down rows in its layer's allocation.</summary>
    public long Down(int expert) => (Shape.Experts * GateUpElements) + (expert * DownElements);

    /// <summary>Where kernels see the layer's gate_up block <c>[E, 2I, H]</c>.</summary>
    public DevicePointer DeviceGateUp(int layer) => layers[layer].Device;

    /// <summary>Where kernels see the layer's down block <c>[E, H, I]</c>.</summary>
    public DevicePointer DeviceDown(int layer) => layers[layer].Device.Offset(2 * Down(0));

    /// <summary>The host address of element <paramref name="offset"/> of <paramref name="layer"/> (page-locked: a valid copy source).</summary>
    public void* Host(int layer, long offset) => (ushort*)layers[layer].Host + offset;

    public void Dispose()
    {
        for (int l = 0; l < layers.Count; l++)
        {
            driver.FreeHost(layers[l].Host, $"mapped routed experts of MoE layer {l}");
        }

        layers.Clear();
    }

    private static void Copy(TensorView view, IntPtr host, long offset, int rows, int cols)
    {
        if (!WeightLoading.IsMatrix(view) || WeightLoading.MatrixShape(view) != (rows, cols))
        {
            throw new TensorShapeException($"is [{string.Join(", ", view.Shape)}]; an expert matrix [{rows}, {cols}] is expected", view.File, view.Name);
        }

        if (view.DType != DType.BF16)
        {
            throw new TensorDTypeException($"is {view.DType}; matrices must be BF16.", view.File, view.Name);
        }

        view.AsBF16().CopyTo(new Span<ushort>((ushort*)host + offset, checked(rows * cols)));
    }
}
