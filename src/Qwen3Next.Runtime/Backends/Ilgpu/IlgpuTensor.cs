using ILGPU;
using ILGPU.Runtime;

namespace Qwen3Next.Backends.Ilgpu;

/// <summary>A float32 buffer in accelerator memory.</summary>
public sealed class IlgpuTensor(MemoryBuffer1D<float, Stride1D.Dense> buffer) : DeviceTensor(buffer.Length)
{
    public MemoryBuffer1D<float, Stride1D.Dense> Buffer { get; } = buffer;

    public ArrayView<float> View => Buffer.View;

    public override void Dispose() => Buffer.Dispose();
}

/// <summary>A weight in accelerator memory: bf16 bits for matrices, float32 for vectors.</summary>
public sealed class IlgpuWeight : DeviceWeight
{
    private readonly MemoryBuffer1D<ushort, Stride1D.Dense>? bits;
    private readonly MemoryBuffer1D<float, Stride1D.Dense>? floats;

    public IlgpuWeight(string name, int rows, int cols, MemoryBuffer1D<ushort, Stride1D.Dense> bits)
        : base(name, rows, cols) => this.bits = bits;

    public IlgpuWeight(string name, MemoryBuffer1D<float, Stride1D.Dense> floats)
        : base(name, 1, (int)floats.Length) => this.floats = floats;

    public ArrayView<ushort> Bits => bits?.View ?? throw new InvalidOperationException($"Weight '{Name}' is a vector, not a bf16 matrix.");

    public ArrayView<float> Values => floats?.View ?? throw new InvalidOperationException($"Weight '{Name}' is a bf16 matrix, not a vector.");

    public override void Dispose()
    {
        bits?.Dispose();
        floats?.Dispose();
    }
}
