using ILGPU;
using ILGPU.Runtime;

namespace Qwen3Next.Backends.Ilgpu;

/// <summary>A float32 buffer in accelerator memory.</summary>
public sealed class IlgpuTensor(MemoryBuffer1D<float, Stride1D.Dense> buffer) : DeviceTensor(buffer.Length)
{
    public MemoryBuffer1D<float, Stride1D.Dense> Buffer { get; } = buffer;

    public ArrayView<float> View => Buffer.View;

    protected override void Release() => Buffer.Dispose();
}

/// <summary>A weight in accelerator memory: bf16 bits for matrices, float32 for vectors.</summary>
public sealed class IlgpuWeight : DeviceWeight
{
    private readonly MemoryBuffer1D<ushort, Stride1D.Dense>? bits;
    private readonly MemoryBuffer1D<float, Stride1D.Dense>? floats;

    public IlgpuWeight(string name, int rows, int cols, MemoryBuffer1D<ushort, Stride1D.Dense> bits)
        : base(name, rows, cols, isMatrix: true) => this.bits = bits;

    public IlgpuWeight(string name, MemoryBuffer1D<float, Stride1D.Dense> floats)
        : base(name, 1, (int)floats.Length, isMatrix: false) => this.floats = floats;

    /// <summary>A bf16 matrix whose device copy lives in a layer staging buffer while its layer runs.</summary>
    public IlgpuWeight(string name, int rows, int cols, IStagedBits staged)
        : base(name, rows, cols, isMatrix: true) => this.staged = staged;

    private readonly IStagedBits? staged;

    public ArrayView<ushort> Bits => bits?.View ?? staged?.Current ?? throw new InvalidOperationException($"Weight '{Name}' is a vector, not a bf16 matrix.");

    /// <summary>Elements between the start of the device buffer and <see cref="Bits"/> (0 unless staged): wide loads need it aligned.</summary>
    public long BitsOffset => staged?.ElementOffset ?? 0;

    public ArrayView<float> Values => floats?.View ?? throw new InvalidOperationException($"Weight '{Name}' is a bf16 matrix, not a vector.");

    protected override void Release()
    {
        bits?.Dispose();
        floats?.Dispose();
    }
}

/// <summary>Where a streamed matrix currently is on the device (valid while its layer is staged).</summary>
public interface IStagedBits
{
    ArrayView<ushort> Current { get; }

    /// <summary>Where the matrix starts in its staging buffer, in elements.</summary>
    long ElementOffset { get; }
}
