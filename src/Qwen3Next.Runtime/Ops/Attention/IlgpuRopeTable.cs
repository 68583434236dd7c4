using ILGPU;
using ILGPU.Runtime;
using Qwen3Next.Backends;

namespace Qwen3Next.Ops.Attention;

/// <summary>The device copy of <see cref="RopeTable"/> for the ILGPU kernels, uploaded again only when the host table grows
/// (O(log positions) times per run, not per step).</summary>
public sealed class IlgpuRopeTable(Accelerator accelerator) : IDisposable
{
    private readonly HostRopeTable host = new();
    private MemoryBuffer1D<float, Stride1D.Dense>? table;
    private int version = -1;

    /// <summary>The table covering positions [0, <paramref name="positionsNeeded"/>) for this shape.</summary>
    public ArrayView<float> Covering(GatedAttentionShape shape, int positionsNeeded, AcceleratorStream stream)
    {
        var values = host.Covering(shape, positionsNeeded);
        if (table is null || version != host.Version)
        {
            table?.Dispose();
            table = accelerator.Allocate1D<float>(values.Length);
            table.View.CopyFromCPU(stream, values);
            version = host.Version;
        }

        return table.View;
    }

    public void Dispose() => table?.Dispose();
}
