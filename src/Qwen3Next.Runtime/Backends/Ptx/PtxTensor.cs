using Qwen3Next.Cuda;

namespace Qwen3Next.Backends.Ptx;

/// <summary>A float32 buffer in device memory owned by the ptx backend.</summary>
public sealed class PtxTensor : DeviceTensor
{
    private readonly DeviceBuffer<float> buffer;
    private readonly DeviceTensorArena? arena;

    /// <param name="arena">Where the buffer goes back on dispose (null: freed).</param>
    internal PtxTensor(DeviceBuffer<float> buffer, DeviceTensorArena? arena = null)
        : base(buffer.Length) => (this.buffer, this.arena) = (buffer, arena);

    internal DeviceSpan<float> Span => buffer.Span;

    /// <summary>The same memory as raw bf16 bits, two per float word (a bf16 KV pool, <see cref="KvElement.BFloat16"/>).</summary>
    internal DeviceSpan<ushort> Bf16Span => new(buffer.Span.Address, buffer.Span.Length * 2);

    protected override void Release()
    {
        if (arena is not null)
        {
            arena.Return(buffer);
        }
        else
        {
            buffer.Dispose();
        }
    }
}

/// <summary>A weight in device memory: bf16 bits for matrices, float32 for vectors.</summary>
public sealed class PtxWeight : DeviceWeight
{
    private readonly DeviceBuffer<ushort>? bits;
    private readonly DeviceBuffer<float>? floats;

    internal PtxWeight(string name, int rows, int cols, DeviceBuffer<ushort> bits)
        : base(name, rows, cols, isMatrix: true) => this.bits = bits;

    internal PtxWeight(string name, DeviceBuffer<float> floats)
        : base(name, 1, checked((int)floats.Length), isMatrix: false) => this.floats = floats;

    internal DeviceSpan<ushort> Bits => bits?.Span ?? throw new InvalidOperationException($"Weight '{Name}' is a vector, not a bf16 matrix.");

    internal DeviceSpan<float> Values => floats?.Span ?? throw new InvalidOperationException($"Weight '{Name}' is a bf16 matrix, not a vector.");

    protected override void Release()
    {
        bits?.Dispose();
        floats?.Dispose();
    }
}
