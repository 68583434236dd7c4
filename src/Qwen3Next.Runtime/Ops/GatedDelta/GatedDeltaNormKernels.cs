using ILGPU;
using ILGPU.Algorithms;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Ops.GatedDelta;

/// <summary>
/// The two row norms around the prefill rule: q/k l2 normalisation (with q's scale) before it, the gated RMSNorm
/// after it. Both work on tiles of <see cref="RowTile"/> rows per group: each thread first reduces whole rows
/// (one row per thread, into shared memory), then one barrier, then the tile is written with adjacent threads on
/// adjacent elements. Two barriers per 32 rows instead of a group reduction (and its barriers) per row: a barrier
/// is the expensive thing on ILGPU's CPU accelerator, and the rows are short (Dk = Dv = 128).
/// </summary>
public static class GatedDeltaNormKernels
{
    public const int RowTile = 32;

    /// <summary>The l2 norm's epsilon inside the sqrt: x·rsqrt(Σx² + 1e-6), as HF's kernel.</summary>
    public const float L2Eps = 1e-6f;

    /// <summary>
    /// y = x · scale · rsqrt(Σx² + 1e-6) per row of <paramref name="dim"/> (or x · scale when
    /// <paramref name="l2Normalize"/> is 0). x and y <c>[rows, dim]</c>; y may alias x.
    /// </summary>
    public static void L2NormalizeRows(ArrayView<float> x, ArrayView<float> y, int rows, int dim, float scale, int l2Normalize)
    {
        var factors = SharedMemory.Allocate<float>(RowTile);
        int tiles = (rows + RowTile - 1) / RowTile;
        for (int tile = Grid.IdxX; tile < tiles; tile += Grid.DimX)
        {
            int firstRow = tile * RowTile;
            for (int r = Group.IdxX; r < RowTile; r += Group.DimX)
            {
                int row = firstRow + r;
                float sq = 0;
                if (row < rows && l2Normalize != 0)
                {
                    long start = (long)row * dim;
                    for (int i = 0; i < dim; i++)
                    {
                        float value = x[start + i];
                        sq += value * value;
                    }
                }

                factors[r] = l2Normalize != 0 ? scale * XMath.Rsqrt(sq + L2Eps) : scale;
            }

            Group.Barrier();
            int tileRows = XMath.Min(RowTile, rows - firstRow);
            long tileStart = (long)firstRow * dim;
            for (int e = Group.IdxX; e < tileRows * dim; e += Group.DimX)
            {
                y[tileStart + e] = x[tileStart + e] * factors[e / dim];
            }

            Group.Barrier();
        }
    }

    /// <summary>
    /// y = w ⊙ rms(o) ⊙ silu(z) per (token, value head) row of Dv. o and y <c>[T, Hv, Dv]</c>; z is read in place
    /// from the grouped qkvz rows <c>[T, QkvzWidth]</c>; w <c>[Dv]</c> is used as-is (not 1 + w).
    /// </summary>
    public static void GatedRmsNorm(ArrayView<float> o, ArrayView<float> qkvz, ArrayView<float> weight, ArrayView<float> y, GatedDeltaMixerDims dims)
    {
        var factors = SharedMemory.Allocate<float>(RowTile);
        int heads = dims.Rule.ValueHeads, dv = dims.Rule.ValueDim;
        int rows = dims.Rule.Tokens * heads;
        int tiles = (rows + RowTile - 1) / RowTile;
        for (int tile = Grid.IdxX; tile < tiles; tile += Grid.DimX)
        {
            int firstRow = tile * RowTile;
            for (int r = Group.IdxX; r < RowTile; r += Group.DimX)
            {
                int row = firstRow + r;
                float sq = 0;
                if (row < rows)
                {
                    long start = (long)row * dv;
                    for (int i = 0; i < dv; i++)
                    {
                        float value = o[start + i];
                        sq += value * value;
                    }
                }

                factors[r] = XMath.Rsqrt((sq / dv) + dims.NormEps);
            }

            Group.Barrier();
            int tileRows = XMath.Min(RowTile, rows - firstRow);
            long tileStart = (long)firstRow * dv;
            for (int e = Group.IdxX; e < tileRows * dv; e += Group.DimX)
            {
                int row = firstRow + (e / dv), i = e % dv;
                int t = row / heads, h = row % heads;
                float z = qkvz[((long)t * dims.QkvzWidth) + dims.ZColumn(h) + i];
                y[tileStart + e] = weight[i] * (o[tileStart + e] * factors[e / dv]) * KernelMath.Silu(z);
            }

            Group.Barrier();
        }
    }
}
