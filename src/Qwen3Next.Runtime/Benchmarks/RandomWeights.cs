using Qwen3Next.Checkpoint;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Benchmarks;

/// <summary>In-memory bf16 tensors with random values, shaped like checkpoint tensors, for benchmarks and tools.</summary>
public static class RandomWeights
{
    public static TensorView Matrix(string name, int rows, int cols, Random random)
    {
        float scale = 1f / MathF.Sqrt(cols);
        var bits = new ushort[(long)rows * cols];
        for (long i = 0; i < bits.LongLength; i++)
        {
            bits[i] = Bf16.FromFloat(scale * (float)((random.NextDouble() * 2) - 1));
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
