using ILGPU;
using ILGPU.Runtime;

namespace Qwen3Next.Backends.Ptx;

/// <summary>
/// Grow-only scratch buffers of the PTX launchers, one per named slot (e.g. <c>gdn.conv_out</c>), reused by every
/// call: all kernels run in order on one stream, so a later op reuses a slot only after earlier kernels using it.
/// Growing frees the old buffer, which first waits for the stream (the only synchronisation, and only on growth).
/// </summary>
internal sealed class DeviceWorkspace(Accelerator accelerator, AcceleratorStream stream) : IDisposable
{
    private readonly Dictionary<string, MemoryBuffer> buffers = new(StringComparer.Ordinal);

    public ArrayView<T> Get<T>(string slot, long length) where T : unmanaged
    {
        if (buffers.TryGetValue(slot, out var existing))
        {
            if (existing is MemoryBuffer1D<T, Stride1D.Dense> typed && typed.Length >= length)
            {
                return typed.View.SubView(0, Math.Max(1, length));
            }

            stream.Synchronize();
            existing.Dispose();
        }

        var buffer = accelerator.Allocate1D<T>(Math.Max(1, length));
        buffers[slot] = buffer;
        return buffer.View.SubView(0, Math.Max(1, length));
    }

    /// <summary>A slot whose first <paramref name="length"/> elements are zero (cleared on the stream each call).</summary>
    public ArrayView<T> Zeros<T>(string slot, long length) where T : unmanaged
    {
        var view = Get<T>(slot, length);
        view.MemSetToZero(stream);
        return view;
    }

    public void Dispose()
    {
        foreach (var buffer in buffers.Values)
        {
            buffer.Dispose();
        }

        buffers.Clear();
    }
}
