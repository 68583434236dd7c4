using System.Numerics.Tensors;

namespace Qwen3Next.Ops.Basic;

/// <summary>The two RMSNorms of Qwen3-Next: zero-centred <c>(1 + w)</c> for the residual stream and
/// q/k heads, and the plain-weight gated form <c>w · rms(x) · silu(z)</c> after the delta rule.</summary>
public static class RmsNormReference
{
    public static float InverseRms(ReadOnlySpan<float> x, float eps)
        => 1f / MathF.Sqrt((TensorPrimitives.SumOfSquares(x) / x.Length) + eps);

    /// <summary>Row-wise; <paramref name="y"/> may alias <paramref name="x"/>.</summary>
    public static void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, int rows, int dim, float eps, bool zeroCentred)
    {
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * dim, dim);
            var yr = y.Slice(r * dim, dim);
            float inv = InverseRms(xr, eps);
            for (int i = 0; i < dim; i++)
            {
                yr[i] = xr[i] * inv * (zeroCentred ? 1f + weight[i] : weight[i]);
            }
        }
    }

    /// <summary><c>y = w · rms(x) · silu(z)</c> over each group of <paramref name="dim"/> values.</summary>
    public static void Gated(ReadOnlySpan<float> x, ReadOnlySpan<float> z, ReadOnlySpan<float> weight, Span<float> y, int rows, int dim, float eps)
    {
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * dim, dim);
            var zr = z.Slice(r * dim, dim);
            float inv = InverseRms(xr, eps);
            for (int i = 0; i < dim; i++)
            {
                y[(r * dim) + i] = weight[i] * (xr[i] * inv) * Activations.Silu(zr[i]);
            }
        }
    }
}
