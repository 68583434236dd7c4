using System.Runtime.CompilerServices;

namespace Qwen3Next.Cuda;

/// <summary>
/// <see cref="Length"/> elements of <typeparamref name="T"/> at a device address: what a launcher passes to a kernel
/// and checks sizes against. It owns nothing (the allocation belongs to a tensor, weight or workspace slot), and
/// <see cref="Slice(long, long)"/> refuses ranges outside the span, so an offset slip fails on the host, naming the range.
/// </summary>
internal readonly struct DeviceSpan<T> where T : unmanaged
{
    public DeviceSpan(DevicePointer address, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Address = address;
        Length = length;
    }

    public DevicePointer Address { get; }

    public long Length { get; }

    public long ByteLength => Length * Unsafe.SizeOf<T>();

    /// <summary>True for <c>default</c>: no address at all (an optional pointer is passed with <c>AddNull</c>).</summary>
    public bool IsNull => Address.IsNull;

    /// <summary>Elements <paramref name="start"/> .. <paramref name="start"/>+<paramref name="length"/>.</summary>
    public DeviceSpan<T> Slice(long start, long length)
    {
        if (start < 0 || length < 0 || start > Length - length)
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"[{start}, {start + length}) is outside a device span of {Length} {typeof(T).Name}.");
        }

        return new DeviceSpan<T>(Address.Offset(start * Unsafe.SizeOf<T>()), length);
    }

    /// <summary>Elements <paramref name="start"/> to the end.</summary>
    public DeviceSpan<T> Slice(long start) => start >= 0 && start <= Length ? Slice(start, Length - start)
        : throw new ArgumentOutOfRangeException(nameof(start), $"offset {start} is outside a device span of {Length} {typeof(T).Name}.");

    public override string ToString() => $"{Length} {typeof(T).Name} at {Address}";
}
