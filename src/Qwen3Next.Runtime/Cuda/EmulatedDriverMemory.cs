using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Memory;

namespace Qwen3Next.Cuda;

/// <summary>
/// The emulated driver's memory: device and mapped host allocations are regions of the PTX emulator's address space
/// (device memory starts poisoned and uninitialised, as after <c>cuMemAlloc</c>, and every copy or memset marks the
/// bytes it writes), so kernels see exactly what the driver calls put there. Page-locked host memory that is not
/// mapped stays outside the emulator's address space: a kernel touching it is an out-of-bounds finding, as on a GPU.
/// </summary>
internal sealed unsafe class EmulatedDriverMemory(DeviceMemory device) : IDriverMemory
{
    private readonly HostAllocationTable pageLocked = new();
    private readonly Dictionary<ulong, HostAllocation> live = [];

    public int Count
    {
        get
        {
            lock (live)
            {
                return live.Count + pageLocked.Count;
            }
        }
    }

    public HostAllocation Allocate(long bytes, HostAllocationKind kind, string call, string subject)
    {
        if (kind == HostAllocationKind.PageLockedHost)
        {
            return pageLocked.Allocate(bytes, kind, call, subject);
        }

        if (bytes < 1)
        {
            throw CudaErrors.Create(CudaErrors.InvalidValue, call, subject, $"{bytes} bytes requested");
        }

        MemoryRegion region;
        try
        {
            region = kind == HostAllocationKind.Device ? device.Allocate(bytes, subject) : device.AllocateMappedHost(bytes, subject);
        }
        catch (Exception e) when (e is PtxEmulatorException or OutOfMemoryException)
        {
            throw CudaErrors.Create(CudaErrors.OutOfMemory, call, subject, e.Message);
        }

        var allocation = new HostAllocation(region.Start, bytes, kind);
        lock (live)
        {
            live.Add(allocation.Start, allocation);
        }

        return allocation;
    }

    public void Free(ulong start, string call, string subject, params HostAllocationKind[] kinds)
    {
        lock (live)
        {
            if (live.TryGetValue(start, out var allocation))
            {
                if (!kinds.Contains(allocation.Kind))
                {
                    throw CudaErrors.Create(CudaErrors.InvalidValue, call, subject, $"0x{start:x} is a {allocation.Kind} allocation, not {string.Join(" or ", kinds)}");
                }

                live.Remove(start);
                device.Free(start);
                return;
            }
        }

        pageLocked.Free(start, call, subject, kinds);
    }

    public HostAllocation? Find(ulong address, long bytes)
    {
        if (bytes >= 0 && device.Find(address, bytes) is { } region)
        {
            lock (live)
            {
                if (live.TryGetValue(region.Start, out var allocation))
                {
                    return allocation;
                }
            }
        }

        return pageLocked.Find(address, bytes);
    }

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

    public void Copy(ulong destination, ulong source, long bytes)
    {
        bool toDevice = device.Find(destination, bytes) is not null, fromDevice = device.Find(source, bytes) is not null;
        if (toDevice && fromDevice)
        {
            device.Copy(destination, source, bytes, "a copy");
            return;
        }

        for (long done = 0; done < bytes; done += int.MaxValue)
        {
            int chunk = (int)Math.Min(bytes - done, int.MaxValue);
            var span = new Span<byte>((void*)((toDevice ? source : destination) + (ulong)done), chunk);
            if (toDevice)
            {
                device.Write(destination + (ulong)done, span, "a host-to-device copy");
            }
            else if (fromDevice)
            {
                device.Read(source + (ulong)done, span, "a device-to-host copy");
            }
            else
            {
                new ReadOnlySpan<byte>((void*)(source + (ulong)done), chunk).CopyTo(span);
            }
        }
    }

    public void Fill8(ulong destination, byte value, long bytes) => device.Fill(destination, value, 1, bytes, "cuMemsetD8");

    public void Fill32(ulong destination, uint value, long count) => device.Fill(destination, value, 4, count, "cuMemsetD32");

    public void Dispose()
    {
        lock (live)
        {
            foreach (ulong start in live.Keys)
            {
                device.Free(start);
            }

            live.Clear();
        }

        pageLocked.Dispose();
    }
}
