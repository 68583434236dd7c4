using Qwen3Next.Checkpoint;

namespace Qwen3Next.Benchmarks;

/// <summary>In-memory bf16 tensors with random values, shaped like checkpoint tensors, for benchmarks and tools.</summary>
public static class RandomWeights
{
    /// <summary>Random bits with the sign and mantissa kept and the exponent limited to 2^-7..2^-4, so the values
    /// are of the size trained weights have and a 3 GB expert layer is generated in seconds.</summary>
    public static TensorView Matrix(string name, int rows, int cols, Random random)
    {
        var bits = new ushort[(long)rows * cols];
        random.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(bits.AsSpan()));
        for (long i = 0; i < bits.LongLength; i++)
        {
            int b = bits[i];
            bits[i] = (ushort)((b & 0x807F) | ((120 + ((b >> 7) & 3)) << 7));
        }

        return TensorView.FromBf16(name, [rows, cols], bits);
    }

    public static TensorView Vector(string name, int n, float center, Random random)
    {
        var values = new float[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = center + (0.1f * (float)((random.NextDouble() * 2) - 1));
        }

        return TensorView.FromFloat32(name, [n], values);
    }
}
