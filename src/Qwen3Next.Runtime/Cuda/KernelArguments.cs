namespace Qwen3Next.Cuda;

/// <summary>What one kernel parameter holds, as the CUDA C signature declares it.</summary>
public enum KernelArgumentKind
{
    /// <summary>A device pointer (8 bytes); null where the kernel allows it.</summary>
    Pointer,

    /// <summary>A C <c>int</c> (4 bytes).</summary>
    Int32,

    /// <summary>A C <c>float</c> (4 bytes).</summary>
    Float32,

    /// <summary>A C <c>long long</c> (8 bytes).</summary>
    Int64,
}

/// <summary>
/// The argument list of one launch, in the order of the kernel's C signature. <c>cuLaunchKernel</c> wants
/// <c>void** kernelParams</c>: one pointer per parameter to a copy of its value. Each value lives in its own
/// 8-byte slot here (ints and floats in the low 4 bytes, little-endian, as the ABI reads them); the pointer
/// array is built on the stack at launch and the driver copies the values before the call returns, so one
/// instance may be reused and refilled after each launch. Device spans become the address of their first element.
/// </summary>
public sealed class KernelArguments
{
    private ulong[] slots = new ulong[24];
    private KernelArgumentKind[] kinds = new KernelArgumentKind[24];

    public int Count { get; private set; }

    /// <summary>The device address of the first element of <paramref name="span"/>.</summary>
    internal KernelArguments Add<T>(DeviceSpan<T> span) where T : unmanaged
    {
        if (span.IsNull)
        {
            throw new ArgumentException("A null device span has no address; use AddNull for an optional pointer.", nameof(span));
        }

        return Push(KernelArgumentKind.Pointer, span.Address.Address);
    }

    /// <summary>The device address of element <paramref name="elementOffset"/> of <paramref name="span"/>
    /// (a strided view into a packed buffer, e.g. k inside the conv output).</summary>
    internal KernelArguments Add<T>(DeviceSpan<T> span, long elementOffset) where T : unmanaged
    {
        if (elementOffset < 0 || elementOffset > span.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(elementOffset), $"offset {elementOffset} is outside a span of {span.Length} elements.");
        }

        return Add(span.Slice(elementOffset));
    }

    public KernelArguments AddNull() => Push(KernelArgumentKind.Pointer, 0);

    public KernelArguments Add(int value) => Push(KernelArgumentKind.Int32, unchecked((uint)value));

    public KernelArguments Add(float value) => Push(KernelArgumentKind.Float32, BitConverter.SingleToUInt32Bits(value));

    public KernelArguments Add(long value) => Push(KernelArgumentKind.Int64, unchecked((ulong)value));

    /// <summary>Empties the list for the next launch.</summary>
    public KernelArguments Clear()
    {
        Count = 0;
        return this;
    }

    public KernelArgumentKind KindAt(int index) => kinds[CheckIndex(index)];

    /// <summary>The bytes the kernel receives for parameter <paramref name="index"/> (4 or 8, little-endian).</summary>
    public byte[] BytesAt(int index)
    {
        CheckIndex(index);
        var bytes = BitConverter.GetBytes(slots[index]);
        return kinds[index] is KernelArgumentKind.Int32 or KernelArgumentKind.Float32 ? bytes[..4] : bytes;
    }

    /// <summary>Test seam: packs a raw address as a pointer argument.</summary>
    internal KernelArguments AddAddress(IntPtr address) => Push(KernelArgumentKind.Pointer, (ulong)address.ToInt64());

    /// <summary>The 8-byte value slots, one per parameter (for a driver that reads the values directly).</summary>
    internal ReadOnlySpan<ulong> Values => slots.AsSpan(0, Count);

    /// <summary>Fills <paramref name="parameters"/> (at least <see cref="Count"/> entries) with the address of each
    /// value slot in <paramref name="values"/>, which must be <see cref="Values"/> pinned: <c>void** kernelParams</c>.</summary>
    internal static unsafe void FillParameterArray(IntPtr* parameters, ulong* values, int count)
    {
        for (int i = 0; i < count; i++)
        {
            parameters[i] = (IntPtr)(values + i);
        }
    }

    /// <summary>Test seam: builds the <c>void**</c> array exactly as <see cref="CudaApiDriver"/> does and reads every
    /// parameter back through it, as the driver would.</summary>
    internal unsafe byte[][] ReadThroughParameterArray()
    {
        IntPtr* parameters = stackalloc IntPtr[Math.Max(1, Count)];
        var result = new byte[Count][];
        fixed (ulong* values = Values)
        {
            FillParameterArray(parameters, values, Count);
            for (int i = 0; i < Count; i++)
            {
                int size = kinds[i] is KernelArgumentKind.Int32 or KernelArgumentKind.Float32 ? 4 : 8;
                result[i] = new ReadOnlySpan<byte>((void*)parameters[i], size).ToArray();
            }
        }

        return result;
    }

    private int CheckIndex(int index) => (uint)index < (uint)Count ? index : throw new ArgumentOutOfRangeException(nameof(index));

    private KernelArguments Push(KernelArgumentKind kind, ulong value)
    {
        if (Count == slots.Length)
        {
            Array.Resize(ref slots, Count * 2);
            Array.Resize(ref kinds, Count * 2);
        }

        slots[Count] = value;
        kinds[Count] = kind;
        Count++;
        return this;
    }
}
