using Qwen3Next.PtxEmulator.Decoding;

namespace Qwen3Next.PtxEmulator;

/// <summary>Packs argument values into a kernel's parameter buffer at the offsets its <c>.entry</c> declares.</summary>
public sealed class KernelParameterPacker(DecodedKernel kernel)
{
    private readonly byte[] bytes = new byte[kernel.ParameterBytes];

    public ReadOnlySpan<byte> Bytes => bytes;

    /// <summary>Writes the low bytes of <paramref name="value"/> into parameter <paramref name="index"/>, which must be
    /// exactly <paramref name="size"/> bytes (4 or 8) — a size mismatch is the classic silent ABI bug.</summary>
    public KernelParameterPacker Set(int index, ulong value, int size)
    {
        var p = Parameter(index);
        if (p.Size != size)
        {
            throw new PtxLaunchException($"{kernel.Name}: parameter {index} ({p.Name}) is {p.Size} bytes (.{p.Type}), a {size}-byte value was given");
        }

        bool written = size == 4 ? BitConverter.TryWriteBytes(bytes.AsSpan(p.Offset, 4), (uint)value)
            : BitConverter.TryWriteBytes(bytes.AsSpan(p.Offset, 8), value);
        if (!written)
        {
            throw new PtxLaunchException($"{kernel.Name}: parameter {index} ({p.Name}) could not take a {size}-byte value");
        }

        return this;
    }

    /// <summary>Writes raw bytes (a struct parameter such as ILGPU's array views) into parameter <paramref name="index"/>.</summary>
    public KernelParameterPacker SetBytes(int index, ReadOnlySpan<byte> value)
    {
        var p = Parameter(index);
        if (p.Size != value.Length)
        {
            throw new PtxLaunchException($"{kernel.Name}: parameter {index} ({p.Name}) is {p.Size} bytes, {value.Length} were given");
        }

        value.CopyTo(bytes.AsSpan(p.Offset));
        return this;
    }

    public KernelParameterPacker Set(int index, float value) => Set(index, BitConverter.SingleToUInt32Bits(value), 4);

    public KernelParameterPacker Set(int index, int value) => Set(index, (uint)value, 4);

    public KernelParameterPacker Set(int index, long value) => Set(index, (ulong)value, 8);

    private KernelParameter Parameter(int index)
        => (uint)index < (uint)kernel.Parameters.Count ? kernel.Parameters[index]
            : throw new PtxLaunchException($"{kernel.Name}: parameter {index} does not exist (it takes {kernel.Parameters.Count})");
}
