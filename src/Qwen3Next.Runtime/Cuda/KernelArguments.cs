using ILGPU;
using ILGPU.Runtime;

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
/// instance may be reused and refilled after each launch. Views become device pointers with their offset applied.
/// </summary>
public sealed class KernelArguments
{
    private ulong[] slots = new ulong[24];
    private KernelArgumentKind[] kinds = new KernelArgumentKind[24];

    public int Count { get; private set; }

    /// <summary>The device address of the first element of <paramref name="view"/>.</summary>
    public KernelArguments Add<T>(ArrayView<T> view) where T : unmanaged
    {
        if (!view.IsValid)
        {
            throw new ArgumentException("An empty view has no device address; use AddNull for an optional pointer.", nameof(view));
        }

        return Push(KernelArgumentKind.Pointer, (ulong)view.LoadEffectiveAddressAsPtr().ToInt64());
    }

    /// <summary>The device address of element <paramref name="elementOffset"/> of <paramref name="view"/>
    /// (a strided view into a packed buffer, e.g. k inside the conv output).</summary>
    public KernelArguments Add<T>(ArrayView<T> view, long elementOffset) where T : unmanaged
    {
        if (elementOffset < 0 || elementOffset > view.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(elementOffset), $"offset {elementOffset} is outside a view of {view.Length} elements.");
        }

        return Add(view.SubView(elementOffset, view.Length - elementOffset));
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

    /// <summary>Launches <paramref name="function"/> with <c>void** kernelParams</c> built over the pinned slots.</summary>
    internal unsafe void Launch(IntPtr function, LaunchConfig config, IntPtr stream, string subject)
    {
        IntPtr* parameters = stackalloc IntPtr[Math.Max(1, Count)];
        fixed (ulong* values = slots)
        {
            Fill(parameters, values);
            CudaDriver.Launch(function, config.Grid, config.Block, config.DynamicSharedBytes, stream, parameters, subject);
        }
    }

    /// <summary>Test seam: builds the <c>void**</c> array exactly as <see cref="Launch"/> does and reads every
    /// parameter back through it, as the driver would.</summary>
    internal unsafe byte[][] ReadThroughParameterArray()
    {
        IntPtr* parameters = stackalloc IntPtr[Math.Max(1, Count)];
        var result = new byte[Count][];
        fixed (ulong* values = slots)
        {
            Fill(parameters, values);
            for (int i = 0; i < Count; i++)
            {
                int size = kinds[i] is KernelArgumentKind.Int32 or KernelArgumentKind.Float32 ? 4 : 8;
                result[i] = new ReadOnlySpan<byte>((void*)parameters[i], size).ToArray();
            }
        }

        return result;
    }

    private unsafe void Fill(IntPtr* parameters, ulong* values)
    {
        for (int i = 0; i < Count; i++)
        {
            parameters[i] = (IntPtr)(values + i);
        }
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
