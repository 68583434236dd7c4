using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Qwen3Next.Ops.Basic;

/// <summary>bf16 is the top half of a float32: widening is a 16-bit shift, exact.</summary>
public static class Bf16
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>Round-to-nearest-even narrowing (used by tests and tools that write weights).</summary>
    public static ushort FromFloat(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return 0x7FC0;
        }

        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    public static void Widen(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        for (int i = 0; i < source.Length; i++)
        {
            destination[i] = ToFloat(source[i]);
        }
    }

    /// <summary>Dot product of a float row with a bf16 row, widened in blocks so TensorPrimitives can vectorise.</summary>
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<ushort> w)
    {
        Span<float> block = stackalloc float[256];
        float sum = 0;
        for (int start = 0; start < w.Length; start += block.Length)
        {
            int n = Math.Min(block.Length, w.Length - start);
            Widen(w.Slice(start, n), block);
            sum += TensorPrimitives.Dot(x.Slice(start, n), block[..n]);
        }

        return sum;
    }
}
