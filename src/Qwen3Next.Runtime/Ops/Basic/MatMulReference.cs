using System.Numerics.Tensors;

namespace Qwen3Next.Ops.Basic;

/// <summary>Reference of <c>y[rows, out] = x[rows, in] · Wᵀ</c> with a bf16 weight and float32 math.</summary>
public static class MatMulReference
{
    /// <summary>Each weight row is widened once and used for every input row; output rows are split across cores.</summary>
    public static void Run(ReadOnlySpan<float> x, ReadOnlySpan<ushort> weight, Span<float> y, int rows, int outFeatures, int inFeatures)
    {
        unsafe
        {
            fixed (float* px = x)
            fixed (ushort* pw = weight)
            fixed (float* py = y)
            {
                var (xp, wp, yp) = ((nint)px, (nint)pw, (nint)py);
                int blocks = Math.Min(outFeatures, Environment.ProcessorCount * 4);
                Parallel.For(0, blocks, block =>
                {
                    var xs = new ReadOnlySpan<float>((float*)xp, rows * inFeatures);
                    var ys = new Span<float>((float*)yp, rows * outFeatures);
                    float[] widened = new float[inFeatures];
                    int begin = (int)((long)outFeatures * block / blocks);
                    int end = (int)((long)outFeatures * (block + 1) / blocks);
                    for (int o = begin; o < end; o++)
                    {
                        Bf16.Widen(new ReadOnlySpan<ushort>((ushort*)wp + ((long)o * inFeatures), inFeatures), widened);
                        for (int r = 0; r < rows; r++)
                        {
                            ys[(r * outFeatures) + o] = TensorPrimitives.Dot(xs.Slice(r * inFeatures, inFeatures), widened);
                        }
                    }
                });
            }
        }
    }
}
