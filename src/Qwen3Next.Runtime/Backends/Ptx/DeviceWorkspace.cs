using System.Runtime.CompilerServices;
using Qwen3Next.Cuda;

namespace Qwen3Next.Backends.Ptx;

/// <summary>
/// Grow-only scratch buffers of the PTX launchers, one per named slot (e.g. <c>gdn.conv_out</c>), reused by every
/// call: all kernels run in order on one stream, so a later op reuses a slot only after earlier kernels using it.
/// Growing frees the old allocation, which first waits for the stream (the only synchronisation, and only on growth).
/// </summary>
internal sealed class DeviceWorkspace(ICudaDriver driver, StreamHandle stream) : IDisposable
{
    private readonly Dictionary<string, (DevicePointer Pointer, long Bytes)> slots = new(StringComparer.Ordinal);

    /// <summary>Counts the slots that moved (grew): a graph captured before a move holds a freed address.</summary>
    public long Moves { get; private set; }

    /// <summary>Bytes held by every slot.</summary>
    public long Bytes => slots.Values.Sum(s => s.Bytes);

    /// <summary>At least max(1, <paramref name="length"/>) elements of <paramref name="slot"/>, not initialised.</summary>
    public DeviceSpan<T> Get<T>(string slot, long length) where T : unmanaged
    {
        long count = Math.Max(1, length);
        long bytes = checked(count * Unsafe.SizeOf<T>());
        if (slots.TryGetValue(slot, out var existing))
        {
            if (existing.Bytes >= bytes)
            {
                return new DeviceSpan<T>(existing.Pointer, count);
            }

            driver.SynchronizeStream(stream, $"workspace '{slot}'");
            Moves++;
            slots.Remove(slot);
            driver.Free(existing.Pointer, $"workspace '{slot}'");
        }

        var pointer = driver.Allocate(bytes, $"workspace '{slot}'");
        slots[slot] = (pointer, bytes);
        return new DeviceSpan<T>(pointer, count);
    }

    /// <summary>A slot whose first <paramref name="length"/> elements are zero (cleared on the stream each call).</summary>
    public DeviceSpan<T> Zeros<T>(string slot, long length) where T : unmanaged
    {
        var span = Get<T>(slot, length);
        driver.MemsetD8Async(span.Address, 0, span.ByteLength, stream, $"workspace '{slot}'");
        return span;
    }

    public void Dispose()
    {
        foreach (var (slot, (pointer, _)) in slots)
        {
            driver.Free(pointer, $"workspace '{slot}'");
        }

        slots.Clear();
    }
}
