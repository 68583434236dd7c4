using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Qwen3Next.Device;

namespace Qwen3Next.Cuda;

/// <summary>
/// Host memory the GPU can copy from asynchronously: page-locked (<c>cuMemAllocHost</c>) on a CUDA device, so
/// <see cref="CopyToAsync"/> overlaps with kernels on another stream; 4 KiB-aligned ordinary memory on the CPU
/// accelerator, where copies are plain memory copies. The streaming executor stages expert weights through it.
/// </summary>
public sealed unsafe class PinnedHostBuffer<T> : IDisposable where T : unmanaged
{
    private const nuint Alignment = 4096;
    private void* memory;

    private PinnedHostBuffer(void* memory, long length, bool isPageLocked)
    {
        this.memory = memory;
        Length = length;
        IsPageLocked = isPageLocked;
    }

    public long Length { get; }

    public long ByteLength => Length * Unsafe.SizeOf<T>();

    /// <summary>True when the memory is page-locked by the CUDA driver.</summary>
    public bool IsPageLocked { get; }

    public static PinnedHostBuffer<T> Allocate(ComputeDevice device, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        long bytes = Math.Max(1, length) * Unsafe.SizeOf<T>();
        if (device.Accelerator is CudaAccelerator cuda)
        {
            string subject = $"a pinned host buffer of {length} {typeof(T).Name}";
            CudaDriver.MakeCurrent(cuda, subject);
            return new PinnedHostBuffer<T>((void*)CudaDriver.AllocatePinned(bytes, subject), length, isPageLocked: true);
        }

        return new PinnedHostBuffer<T>(NativeMemory.AlignedAlloc((nuint)bytes, Alignment), length, isPageLocked: false);
    }

    public Span<T> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(memory == null, this);
            return Length <= int.MaxValue ? new Span<T>(memory, (int)Length)
                : throw new InvalidOperationException($"A buffer of {Length} elements is larger than one span; use Slice.");
        }
    }

    /// <summary>Elements <paramref name="start"/> .. <paramref name="start"/>+<paramref name="length"/> as a span.</summary>
    public Span<T> Slice(long start, int length)
    {
        ObjectDisposedException.ThrowIf(memory == null, this);
        if (start < 0 || length < 0 || start + length > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"[{start}, {start + length}) is outside a buffer of {Length}.");
        }

        return new Span<T>((T*)memory + start, length);
    }

    /// <summary>Copies the first <paramref name="destination"/>.Length elements into device memory, enqueued on
    /// <paramref name="stream"/> (asynchronous on CUDA; the buffer must stay untouched until the stream passes it).</summary>
    public void CopyToAsync(ArrayView<T> destination, AcceleratorStream stream) => CopyToAsync(0, destination, stream);

    /// <summary>Copies elements from <paramref name="sourceStart"/> on into <paramref name="destination"/>, like
    /// <see cref="CopyToAsync(ArrayView{T}, AcceleratorStream)"/>.</summary>
    public void CopyToAsync(long sourceStart, ArrayView<T> destination, AcceleratorStream stream)
    {
        ObjectDisposedException.ThrowIf(memory == null, this);
        if (sourceStart < 0 || sourceStart + destination.Length > Length)
        {
            throw new ArgumentException($"[{sourceStart}, {sourceStart + destination.Length}) is outside a buffer of {Length}.", nameof(destination));
        }

        T* source = (T*)memory + sourceStart;
        if (IsPageLocked)
        {
            long bytes = destination.Length * Unsafe.SizeOf<T>();
            var target = destination.LoadEffectiveAddressAsPtr();
            CudaDriver.CopyAsync(target, (IntPtr)source, bytes, stream, "a pinned host buffer");
        }
        else
        {
            destination.CopyFromCPU(stream, new ReadOnlySpan<T>(source, checked((int)destination.Length)));
        }
    }

    public void Dispose()
    {
        if (memory == null)
        {
            return;
        }

        if (IsPageLocked)
        {
            CudaDriver.FreePinned((IntPtr)memory);
        }
        else
        {
            NativeMemory.AlignedFree(memory);
        }

        memory = null;
    }
}
