namespace Qwen3Next.PtxEmulator.Memory;

/// <summary>What a region of emulated device-visible memory is.</summary>
public enum RegionKind
{
    /// <summary><c>cuMemAlloc</c>: device memory, uninitialised until written.</summary>
    Device,

    /// <summary>Page-locked host memory mapped into the device address space (<c>cuMemHostAlloc</c> DEVICEMAP).</summary>
    MappedHost,

    /// <summary>A module's <c>.global</c> variable (initialised from the PTX).</summary>
    ModuleGlobal,

    /// <summary>Host memory the caller registered for one or more launches (e.g. ILGPU CPU buffers).</summary>
    External,
}

/// <summary>
/// One contiguous range of device addresses. Device addresses equal host addresses (a unified address space, as
/// with CUDA UVA), so a region is also the host memory behind it; the emulator never dereferences an address
/// before finding the region that contains the whole access.
/// </summary>
public sealed class MemoryRegion
{
    internal MemoryRegion(ulong start, long length, RegionKind kind, string name, bool initialised, long id)
    {
        Start = start;
        Length = length;
        Kind = kind;
        Name = name;
        Id = id;
        if (!initialised)
        {
            // One bit per byte: set once the byte was written by a copy, a memset or a kernel.
            InitBits = new ulong[(length + 63) / 64];
        }
    }

    public ulong Start { get; }

    public long Length { get; }

    public ulong End => Start + (ulong)Length;

    public RegionKind Kind { get; }

    public string Name { get; }

    /// <summary>Allocation order, for deterministic reports.</summary>
    public long Id { get; }

    /// <summary>Null when every byte is initialised (module globals, external memory, or fully written).</summary>
    internal ulong[]? InitBits { get; private set; }

    /// <summary>Global race shadow of the sanitizer (lazily created per region).</summary>
    internal Sanitizer.GlobalShadow? Shadow { get; set; }

    internal bool Freed { get; set; }

    public bool Contains(ulong address, long bytes) => address >= Start && address - Start + (ulong)bytes <= (ulong)Length;

    public override string ToString() => $"{Kind} '{Name}' [0x{Start:X}, 0x{End:X}) {Length} B";

    /// <summary>Marks [offset, offset + bytes) initialised.</summary>
    internal void MarkInitialised(long offset, long bytes)
    {
        var bits = InitBits;
        if (bits is null || bytes <= 0)
        {
            return;
        }

        if (bytes <= 16 && (offset & 63) + bytes <= 64)
        {
            bits[offset >> 6] |= ((1ul << (int)bytes) - 1) << (int)(offset & 63);
            return;
        }

        long end = offset + bytes;
        for (long i = offset; i < end;)
        {
            if ((i & 63) == 0 && end - i >= 64)
            {
                bits[i >> 6] = ulong.MaxValue;
                i += 64;
            }
            else
            {
                bits[i >> 6] |= 1ul << (int)(i & 63);
                i++;
            }
        }
    }

    /// <summary>The first uninitialised byte offset in [offset, offset + bytes), or -1.</summary>
    internal long FirstUninitialised(long offset, long bytes)
    {
        var bits = InitBits;
        if (bits is null)
        {
            return -1;
        }

        if (bytes <= 16 && (offset & 63) + bytes <= 64)
        {
            ulong want = ((1ul << (int)bytes) - 1) << (int)(offset & 63);
            ulong missing = ~bits[offset >> 6] & want;
            return missing == 0 ? -1 : offset - (offset & 63) + System.Numerics.BitOperations.TrailingZeroCount(missing);
        }

        for (long i = offset; i < offset + bytes; i++)
        {
            if ((bits[i >> 6] & (1ul << (int)(i & 63))) == 0)
            {
                return i;
            }
        }

        return -1;
    }

    internal void MarkAllInitialised() => InitBits = null;
}
