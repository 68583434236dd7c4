using Qwen3Next.Cuda;

namespace Qwen3Next.Backends.Ptx;

/// <summary>
/// The activation arena of the ptx backend: a disposed tensor's buffer is kept, by length, for the next tensor of the
/// same length instead of going back to the driver, so a decode step (whose tensors have the same lengths every step)
/// makes no <c>cuMemAlloc</c>/<c>cuMemFree</c> once the first step has run — and no free, which on a GPU waits for the
/// device. Reuse is safe without synchronising because every kernel that touches a tensor runs in order on the one
/// compute stream. Idle buffers are held up to <see cref="CapacityBytes"/>; a buffer returned beyond that is freed
/// (a prefill's large activations), so the arena stays bounded.
/// </summary>
internal sealed class DeviceTensorArena(ICudaDriver driver) : IDisposable
{
    /// <summary>Default bound on idle bytes: far above a decode step's working set (a few MB on the 80B model).</summary>
    public const long DefaultCapacityBytes = 256L << 20;

    private readonly Dictionary<long, Stack<DeviceBuffer<float>>> idle = [];
    private readonly Lock gate = new();
    private long idleBytes;
    private bool disposed;
    private long frees;

    public long CapacityBytes { get; set; } = DefaultCapacityBytes;

    private HashSet<DeviceBuffer<float>>? tracked;

    /// <summary>Starts (clearing) or stops recording which buffers <see cref="Rent"/> hands out.</summary>
    public void TrackRents(bool on)
    {
        lock (gate)
        {
            tracked = on ? new HashSet<DeviceBuffer<float>>(ReferenceEqualityComparer.Instance) : null;
        }
    }

    /// <summary>Bytes of the distinct buffers rented since <see cref="TrackRents"/> was turned on: what a pass holds.</summary>
    public long TrackedBytes
    {
        get
        {
            lock (gate)
            {
                return tracked?.Sum(b => b.Length * sizeof(float)) ?? 0;
            }
        }
    }

    /// <summary>Buffers freed instead of kept: a graph captured before holds addresses that may be gone.</summary>
    public long Frees => Interlocked.Read(ref frees);

    /// <summary>Bytes held idle now.</summary>
    public long IdleBytes
    {
        get
        {
            lock (gate)
            {
                return idleBytes;
            }
        }
    }

    /// <summary>A buffer of max(1, <paramref name="length"/>) floats, not initialised: an idle one of that length, or a new one.</summary>
    public DeviceBuffer<float> Rent(long length, string what)
    {
        long count = Math.Max(1, length);
        lock (gate)
        {
            if (idle.TryGetValue(count, out var stack) && stack.TryPop(out var buffer))
            {
                idleBytes -= count * sizeof(float);
                tracked?.Add(buffer);
                return buffer;
            }
        }

        var fresh = DeviceBuffer<float>.Allocate(driver, count, what);
        lock (gate)
        {
            tracked?.Add(fresh);
        }

        return fresh;
    }

    /// <summary>Keeps <paramref name="buffer"/> for a later <see cref="Rent"/>, or frees it when the arena is full or disposed.</summary>
    public void Return(DeviceBuffer<float> buffer)
    {
        long bytes = buffer.Length * sizeof(float);
        lock (gate)
        {
            if (!disposed && idleBytes + bytes <= CapacityBytes)
            {
                if (!idle.TryGetValue(buffer.Length, out var stack))
                {
                    idle[buffer.Length] = stack = new Stack<DeviceBuffer<float>>();
                }

                stack.Push(buffer);
                idleBytes += bytes;
                return;
            }
        }

        Interlocked.Increment(ref frees);
        buffer.Dispose();
    }

    /// <summary>Frees every idle buffer (tensors still alive are freed when they are disposed).</summary>
    public void Dispose()
    {
        List<DeviceBuffer<float>> buffers;
        lock (gate)
        {
            disposed = true;
            buffers = idle.Values.SelectMany(s => s).ToList();
            idle.Clear();
            idleBytes = 0;
        }

        buffers.ForEach(b => b.Dispose());
    }
}
