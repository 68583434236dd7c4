namespace Qwen3Next.Checkpoint;

/// <summary>
/// A zero-copy view of one tensor inside a memory-mapped safetensors file. Its data stays
/// valid only while the owning <see cref="SafeTensorsFile"/> is open; after that every data
/// accessor throws <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed unsafe class TensorView
{
    private readonly ITensorStorage owner;
    private readonly long[] shape;

    internal TensorView(ITensorStorage owner, string name, DType dtype, long[] shape, long elementCount, long dataOffset, long byteLength)
    {
        this.owner = owner;
        this.shape = shape;
        Name = name;
        DType = dtype;
        ElementCount = elementCount;
        DataOffset = dataOffset;
        ByteLength = byteLength;
    }

    public string Name { get; }

    public DType DType { get; }

    /// <summary>Row-major dimensions; a copy, so callers cannot change the view.</summary>
    public long[] Shape => (long[])shape.Clone();

    public int Rank => shape.Length;

    public long ElementCount { get; }

    public string File => owner.Path;

    /// <summary>Absolute byte offset of the first element in <see cref="File"/> (for pread-style streaming).</summary>
    public long DataOffset { get; }

    public long ByteLength { get; }

    public byte* Pointer => owner.AddressOf(DataOffset);

    public ReadOnlySpan<byte> Bytes
    {
        get
        {
            if (ByteLength > int.MaxValue)
            {
                throw new CheckpointException(
                    $"{ByteLength} bytes do not fit in one span; use Pointer with long offsets", File, Name);
            }

            return new ReadOnlySpan<byte>(Pointer, (int)ByteLength);
        }
    }

    /// <summary>A bf16 tensor held in memory (benchmarks, tools, tests), not backed by a file.</summary>
    public static TensorView FromBf16(string name, long[] shape, ushort[] bits)
    {
        var storage = new InMemoryTensorStorage(System.Runtime.InteropServices.MemoryMarshal.AsBytes(bits.AsSpan()));
        return new TensorView(storage, name, DType.BF16, (long[])shape.Clone(), bits.LongLength, 0, storage.Length);
    }

    /// <summary>A float32 tensor held in memory.</summary>
    public static TensorView FromFloat32(string name, long[] shape, float[] values)
    {
        var storage = new InMemoryTensorStorage(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        return new TensorView(storage, name, DType.F32, (long[])shape.Clone(), values.LongLength, 0, storage.Length);
    }

    public int Dim(int i)
    {
        if ((uint)i >= (uint)shape.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(i), i, $"tensor '{Name}' has rank {shape.Length}");
        }

        if (shape[i] > int.MaxValue)
        {
            throw new CheckpointException($"dimension {i} = {shape[i]} does not fit in an int", File, Name);
        }

        return (int)shape[i];
    }

    public bool HasShape(params long[] expected) => shape.AsSpan().SequenceEqual(expected);

    public ReadOnlySpan<ushort> AsBF16()
    {
        RequireDType(DType.BF16, "AsBF16");
        return new ReadOnlySpan<ushort>(Pointer, CheckedSpanLength());
    }

    public ReadOnlySpan<float> AsF32()
    {
        RequireDType(DType.F32, "AsF32");
        return new ReadOnlySpan<float>(Pointer, CheckedSpanLength());
    }

    public float[] ToFloat32()
    {
        var result = new float[CheckedSpanLength()];
        CopyToFloat32(result);
        return result;
    }

    /// <summary>Widens BF16 (bits &lt;&lt; 16), F16 or F32 elements into <paramref name="destination"/>.</summary>
    public void CopyToFloat32(Span<float> destination)
    {
        if (!DTypeInfo.IsFloatingPoint(DType))
        {
            throw new TensorDTypeException($"cannot convert {DType} to float32", File, Name);
        }

        int count = CheckedSpanLength();
        if (destination.Length != count)
        {
            throw new ArgumentException(
                $"destination holds {destination.Length} floats but tensor '{Name}' has {count} elements", nameof(destination));
        }

        byte* source = Pointer;
        switch (DType)
        {
            case DType.BF16:
                var bf16 = new ReadOnlySpan<ushort>(source, count);
                for (int i = 0; i < count; i++)
                {
                    destination[i] = BitConverter.Int32BitsToSingle(bf16[i] << 16);
                }

                break;
            case DType.F16:
                var f16 = new ReadOnlySpan<Half>(source, count);
                for (int i = 0; i < count; i++)
                {
                    destination[i] = (float)f16[i];
                }

                break;
            default:
                new ReadOnlySpan<float>(source, count).CopyTo(destination);
                break;
        }
    }

    public long[] ToInt64()
    {
        int count = CheckedSpanLength();
        switch (DType)
        {
            case DType.I64:
                return new ReadOnlySpan<long>(Pointer, count).ToArray();
            case DType.I32:
                var i32 = new ReadOnlySpan<int>(Pointer, count);
                var result = new long[count];
                for (int i = 0; i < count; i++)
                {
                    result[i] = i32[i];
                }

                return result;
            default:
                throw new TensorDTypeException($"cannot convert {DType} to int64 (need I64 or I32)", File, Name);
        }
    }

    public override string ToString() => $"{Name} {DType} [{string.Join(", ", shape)}]";

    private void RequireDType(DType expected, string accessor)
    {
        if (DType != expected)
        {
            throw new TensorDTypeException($"{accessor} needs {expected} but the tensor is {DType}", File, Name);
        }
    }

    private int CheckedSpanLength()
    {
        if (ElementCount > Array.MaxLength)
        {
            throw new CheckpointException(
                $"{ElementCount} elements do not fit in one span; use Pointer with long offsets", File, Name);
        }

        return (int)ElementCount;
    }
}
