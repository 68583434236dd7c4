namespace Qwen3Next.Backends.Reference;

/// <summary>A float32 buffer in managed memory.</summary>
public sealed class HostTensor(long length) : DeviceTensor(length)
{
    public float[] Data { get; } = new float[length];

    protected override void Release()
    {
    }
}

/// <summary>A weight kept on the host: bf16 bits for matrices, widened floats for vectors.</summary>
public sealed class HostWeight : DeviceWeight
{
    private HostWeight(string name, int rows, int cols, ushort[]? bf16, float[]? floats)
        : base(name, rows, cols, isMatrix: bf16 is not null)
    {
        Bf16 = bf16;
        Floats = floats;
    }

    public ushort[]? Bf16 { get; }

    public float[]? Floats { get; }

    public static HostWeight Matrix(string name, int rows, int cols, ushort[] bits) => new(name, rows, cols, bits, null);

    public static HostWeight Vector(string name, float[] values) => new(name, 1, values.Length, null, values);

    public ReadOnlySpan<ushort> Bits => Bf16 ?? throw new InvalidOperationException($"Weight '{Name}' is a vector, not a bf16 matrix.");

    public ReadOnlySpan<float> Values => Floats ?? throw new InvalidOperationException($"Weight '{Name}' is a bf16 matrix, not a vector.");

    protected override void Release()
    {
    }
}
