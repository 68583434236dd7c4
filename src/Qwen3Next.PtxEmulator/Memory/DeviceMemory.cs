using System.Runtime.InteropServices;

namespace Qwen3Next.PtxEmulator.Memory;

/// <summary>
/// The emulated device's address space: allocations (device memory, mapped host memory, module globals) and
/// registered external ranges, each a <see cref="MemoryRegion"/>. Every copy, memset and kernel access is checked
/// against a region before it touches memory, so a wrong address is a clear error, never a host crash.
/// New device memory is filled with 0xFF bytes (NaN as float, -1 as int) so reads of memory no one wrote stand
/// out even with the sanitizer off; with it on, such reads are findings.
/// </summary>
public sealed unsafe class DeviceMemory : IDisposable
{
    /// <summary>Device allocations are aligned like cudaMalloc's (256 bytes).</summary>
    public const int DeviceAlignment = 256;

    public const byte Poison = 0xFF;

    private readonly object gate = new();
    private MemoryRegion[] sorted = [];
    private long nextId;
    private long longest;
    private long deviceBytes;

    /// <summary>Bytes of live device allocations.</summary>
    public long DeviceBytes => Interlocked.Read(ref deviceBytes);

    /// <summary>Upper bound of live device allocations; 0 = unlimited. Exceeding it is an out-of-memory error.</summary>
    public long Capacity { get; set; }

    public IReadOnlyList<MemoryRegion> Regions
    {
        get
        {
            lock (gate)
            {
                return sorted;
            }
        }
    }

    /// <summary><c>cuMemAlloc</c>: uninitialised (poisoned) device memory.</summary>
    public MemoryRegion Allocate(long bytes, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        lock (gate)
        {
            if (Capacity > 0 && deviceBytes + bytes > Capacity)
            {
                throw new PtxEmulatorException($"out of device memory: {name} needs {bytes} bytes, {deviceBytes} of {Capacity} are in use");
            }

            void* p = NativeMemory.AlignedAlloc((nuint)bytes, DeviceAlignment);
            new Span<byte>(p, checked((int)Math.Min(bytes, int.MaxValue))).Fill(Poison);
            for (long done = int.MaxValue; done < bytes; done += int.MaxValue)
            {
                new Span<byte>((byte*)p + done, (int)Math.Min(bytes - done, int.MaxValue)).Fill(Poison);
            }

            deviceBytes += bytes;
            return Add((ulong)p, bytes, RegionKind.Device, name, initialised: false);
        }
    }

    /// <summary>Page-locked host memory, also mapped for the device at the same address (zero-filled by us; the host
    /// writes it directly, so it counts as initialised).</summary>
    public MemoryRegion AllocateMappedHost(long bytes, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        lock (gate)
        {
            void* p = NativeMemory.AlignedAlloc((nuint)bytes, 4096);
            NativeMemory.Clear(p, (nuint)bytes);
            return Add((ulong)p, bytes, RegionKind.MappedHost, name, initialised: true);
        }
    }

    /// <summary>A module <c>.global</c> variable with its initial bytes.</summary>
    internal MemoryRegion AllocateGlobal(ReadOnlySpan<byte> initial, long bytes, int align, string name)
    {
        lock (gate)
        {
            long size = Math.Max(1, bytes);
            void* p = NativeMemory.AlignedAlloc((nuint)size, (nuint)Math.Max(16, align));
            NativeMemory.Clear(p, (nuint)size);
            initial.CopyTo(new Span<byte>(p, (int)size));
            return Add((ulong)p, size, RegionKind.ModuleGlobal, name, initialised: true);
        }
    }

    /// <summary>Makes host memory the caller owns (e.g. an ILGPU CPU buffer) addressable by kernels; it is never
    /// freed by the emulator. Overlapping registrations of the same memory are allowed.</summary>
    public MemoryRegion RegisterExternal(IntPtr address, long bytes, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        if (address == IntPtr.Zero)
        {
            throw new ArgumentException("A null address cannot be registered.", nameof(address));
        }

        lock (gate)
        {
            return Add((ulong)address, bytes, RegionKind.External, name, initialised: true);
        }
    }

    private MemoryRegion Add(ulong start, long bytes, RegionKind kind, string name, bool initialised)
    {
        var region = new MemoryRegion(start, bytes, kind, name, initialised, nextId++);
        longest = Math.Max(longest, bytes);
        var list = new List<MemoryRegion>(sorted) { region };
        list.Sort((a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : b.Length.CompareTo(a.Length));
        sorted = [.. list];
        return region;
    }

    /// <summary>Frees a device allocation, mapped host allocation or external registration by its start address.</summary>
    public void Free(ulong address)
    {
        lock (gate)
        {
            int index = Array.FindIndex(sorted, r => r.Start == address && r.Kind != RegionKind.ModuleGlobal);
            if (index < 0)
            {
                throw new PtxEmulatorException($"free of 0x{address:X}: not the start of a live allocation (double free or a wrong pointer)");
            }

            var region = sorted[index];
            sorted = [.. sorted.Where((_, i) => i != index)];
            region.Freed = true;
            if (region.Kind is RegionKind.Device or RegionKind.MappedHost or RegionKind.ModuleGlobal)
            {
                NativeMemory.AlignedFree((void*)region.Start);
            }

            if (region.Kind == RegionKind.Device)
            {
                deviceBytes -= region.Length;
            }
        }
    }

    internal void FreeGlobal(MemoryRegion region)
    {
        lock (gate)
        {
            sorted = [.. sorted.Where(r => r != region)];
            region.Freed = true;
            NativeMemory.AlignedFree((void*)region.Start);
        }
    }

    /// <summary>The region containing all of [address, address + bytes), or null.</summary>
    public MemoryRegion? Find(ulong address, long bytes)
    {
        var regions = sorted;
        int lo = 0, hi = regions.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >> 1;
            if (regions[mid].Start <= address)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        // regions[hi] is the last starting at or below the address; overlapping external ranges may need a look back.
        for (int i = hi; i >= 0; i--)
        {
            var r = regions[i];
            if (r.Contains(address, bytes))
            {
                return r;
            }

            if (address - r.Start >= (ulong)longest)
            {
                break;
            }
        }

        return null;
    }

    /// <summary>The region holding [address, address + bytes), or a <see cref="PtxEmulatorException"/> naming <paramref name="what"/>.</summary>
    public MemoryRegion Require(ulong address, long bytes, string what)
        => Find(address, bytes) ?? throw new PtxEmulatorException(
            $"{what}: [0x{address:X}, +{bytes}) is not inside one allocation{Nearest(address)}");

    internal string Nearest(ulong address)
    {
        var regions = sorted;
        MemoryRegion? best = null;
        ulong distance = ulong.MaxValue;
        foreach (var r in regions)
        {
            ulong d = address < r.Start ? r.Start - address : address >= r.End ? address - r.End + 1 : 0;
            if (d < distance)
            {
                distance = d;
                best = r;
            }
        }

        return best is null ? " (no allocations)" : $" (nearest: {best}, {(address < best.Start ? "before it" : "past its end")} by {distance} B)";
    }

    public void Write(ulong address, ReadOnlySpan<byte> source, string what)
    {
        if (source.Length == 0)
        {
            return;
        }

        var region = Require(address, source.Length, what);
        source.CopyTo(new Span<byte>((void*)address, source.Length));
        region.MarkInitialised((long)(address - region.Start), source.Length);
    }

    public void Read(ulong address, Span<byte> destination, string what)
    {
        if (destination.Length == 0)
        {
            return;
        }

        Require(address, destination.Length, what);
        new ReadOnlySpan<byte>((void*)address, destination.Length).CopyTo(destination);
    }

    /// <summary>Device-to-device copy (<c>cuMemcpyDtoD</c>); ranges may overlap.</summary>
    public void Copy(ulong destination, ulong source, long bytes, string what)
    {
        if (bytes == 0)
        {
            return;
        }

        var to = Require(destination, bytes, $"{what} (destination)");
        var from = Require(source, bytes, $"{what} (source)");
        Buffer.MemoryCopy((void*)source, (void*)destination, bytes, bytes);
        long offset = (long)(destination - to.Start);
        if (from.InitBits is null)
        {
            to.MarkInitialised(offset, bytes);
        }
        else
        {
            // Copying uninitialised bytes keeps them uninitialised.
            long sourceOffset = (long)(source - from.Start);
            for (long i = 0; i < bytes; i++)
            {
                if (from.FirstUninitialised(sourceOffset + i, 1) < 0)
                {
                    to.MarkInitialised(offset + i, 1);
                }
            }
        }
    }

    /// <summary><c>cuMemsetD8/D32</c>: <paramref name="count"/> elements of <paramref name="elementBytes"/> (1 or 4).</summary>
    public void Fill(ulong address, uint value, int elementBytes, long count, string what)
    {
        long bytes = count * elementBytes;
        if (bytes == 0)
        {
            return;
        }

        if (elementBytes == 4 && address % 4 != 0)
        {
            throw new PtxEmulatorException($"{what}: a 32-bit memset needs a 4-byte aligned address, not 0x{address:X}");
        }

        var region = Require(address, bytes, what);
        if (elementBytes == 1)
        {
            for (long done = 0; done < bytes; done += int.MaxValue)
            {
                new Span<byte>((byte*)address + done, (int)Math.Min(bytes - done, int.MaxValue)).Fill((byte)value);
            }
        }
        else
        {
            for (long done = 0; done < count; done += int.MaxValue)
            {
                new Span<uint>((uint*)address + done, (int)Math.Min(count - done, int.MaxValue)).Fill(value);
            }
        }

        region.MarkInitialised((long)(address - region.Start), bytes);
    }

    public void Dispose()
    {
        lock (gate)
        {
            foreach (var r in sorted)
            {
                if (r.Kind != RegionKind.External && !r.Freed)
                {
                    NativeMemory.AlignedFree((void*)r.Start);
                    r.Freed = true;
                }
            }

            sorted = [];
            deviceBytes = 0;
        }
    }
}
