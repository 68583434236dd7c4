namespace Qwen3Next.Checkpoint;

/// <summary>Where a <see cref="TensorView"/>'s bytes live: a memory-mapped file or pinned memory.</summary>
public unsafe interface ITensorStorage
{
    /// <summary>A file path, or a descriptive name for in-memory storage (used in error messages).</summary>
    string Path { get; }

    byte* AddressOf(long offset);
}

/// <summary>Bytes copied into a pinned array, so views can hand out stable pointers.</summary>
internal sealed unsafe class InMemoryTensorStorage : ITensorStorage
{
    private readonly byte[] data;

    public InMemoryTensorStorage(ReadOnlySpan<byte> bytes)
    {
        data = GC.AllocateUninitializedArray<byte>(Math.Max(1, bytes.Length), pinned: true);
        bytes.CopyTo(data);
        Length = bytes.Length;
    }

    public string Path => "(memory)";

    public long Length { get; }

    public byte* AddressOf(long offset) => (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref data[0]) + offset;
}
