using System.Runtime.InteropServices;

namespace Qwen3Next.Cuda;

/// <summary>What a host-memory driver allocation stands for.</summary>
internal enum HostAllocationKind
{
    /// <summary><c>cuMemAlloc</c>: device memory.</summary>
    Device,

    /// <summary><c>cuMemHostAlloc</c> without <c>DEVICEMAP</c>: copies may use it, kernels may not.</summary>
    PageLockedHost,

    /// <summary><c>cuMemHostAlloc</c> with <c>DEVICEMAP</c>: kernels may read and write it too.</summary>
    MappedHost,
}

/// <summary>One live allocation: <c>[Start, Start + Bytes)</c>.</summary>
internal sealed record HostAllocation(ulong Start, long Bytes, HostAllocationKind Kind)
{
    public ulong End => Start + (ulong)Bytes;

    /// <summary>Device memory and mapped host memory are in the device's address space.</summary>
    public bool DeviceVisible => Kind != HostAllocationKind.PageLockedHost;

    public override string ToString() => $"{Kind} [0x{Start:x}, +{Bytes} B)";
}

/// <summary>
/// The memory of a host-memory driver: ordinary 256-byte aligned host memory (so uploads, downloads, copies and
/// memsets really move bytes), zero-filled when allocated so a read of memory no kernel wrote is deterministic
/// (a GPU gives no such guarantee), and every live range recorded so each access can be checked against it.
/// </summary>
internal sealed unsafe class HostAllocationTable : IDriverMemory
{
    /// <summary><c>cuMemAlloc</c> aligns to at least 256 bytes.</summary>
    public const int Alignment = 256;

    private readonly SortedList<ulong, HostAllocation> live = [];

    public int Count
    {
        get
        {
            lock (live)
            {
                return live.Count;
            }
        }
    }

    public HostAllocation Allocate(long bytes, HostAllocationKind kind, string call, string subject)
    {
        if (bytes < 1)
        {
            throw CudaErrors.Create(CudaErrors.InvalidValue, call, subject, $"{bytes} bytes requested");
        }

        void* memory;
        try
        {
            memory = NativeMemory.AlignedAlloc((nuint)bytes, Alignment);
        }
        catch (OutOfMemoryException)
        {
            throw CudaErrors.Create(CudaErrors.OutOfMemory, call, subject, $"{bytes} bytes requested");
        }

        NativeMemory.Clear(memory, (nuint)bytes);
        var allocation = new HostAllocation((ulong)memory, bytes, kind);
        lock (live)
        {
            live.Add(allocation.Start, allocation);
        }

        return allocation;
    }

    /// <summary>Frees the allocation starting at <paramref name="start"/>, which must be live and one of <paramref name="kinds"/>.</summary>
    public void Free(ulong start, string call, string subject, params HostAllocationKind[] kinds)
    {
        lock (live)
        {
            if (!live.TryGetValue(start, out var allocation) || !kinds.Contains(allocation.Kind))
            {
                throw CudaErrors.Create(CudaErrors.InvalidValue, call, subject, $"0x{start:x} is not the start of a live {string.Join(" or ", kinds)} allocation");
            }

            live.Remove(start);
        }

        NativeMemory.AlignedFree((void*)start);
    }

    /// <summary>The live allocation holding all of <c>[address, address + bytes)</c>, or null. A zero-byte range may sit at the end.</summary>
    public HostAllocation? Find(ulong address, long bytes)
    {
        lock (live)
        {
            var starts = live.Keys;
            int lo = 0, hi = starts.Count - 1, found = -1;
            while (lo <= hi)
            {
                int mid = (lo + hi) >>> 1;
                if (starts[mid] <= address)
                {
                    found = mid;
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            if (found < 0 || bytes < 0)
            {
                return null;
            }

            var allocation = live.Values[found];
            return address - allocation.Start <= (ulong)allocation.Bytes && (ulong)bytes <= allocation.End - address ? allocation : null;
        }
    }

    /// <summary>The allocation holding <c>[address, address + bytes)</c>; <see cref="CudaDriverException"/> (invalid value) naming the range otherwise.</summary>
    public HostAllocation Require(ulong address, long bytes, bool deviceVisible, string call, string subject)
    {
        var allocation = Find(address, bytes);
        if (allocation is null || (deviceVisible && !allocation.DeviceVisible))
        {
            string where = deviceVisible ? "device-visible allocation" : "allocation";
            throw CudaErrors.Create(CudaErrors.InvalidValue, call, subject, $"[0x{address:x}, +{bytes} B) is not inside one live {where}");
        }

        return allocation;
    }

    public void Copy(ulong destination, ulong source, long bytes) => Buffer.MemoryCopy((void*)source, (void*)destination, bytes, bytes);

    public void Fill8(ulong destination, byte value, long bytes) => NativeMemory.Fill((void*)destination, (nuint)bytes, value);

    public void Fill32(ulong destination, uint value, long count)
    {
        var words = (uint*)destination;
        for (long i = 0; i < count; i++)
        {
            words[i] = value;
        }
    }

    /// <summary>Frees everything still live.</summary>
    public void Dispose()
    {
        lock (live)
        {
            foreach (var start in live.Keys)
            {
                NativeMemory.AlignedFree((void*)start);
            }

            live.Clear();
        }
    }
}
