using ILGPU;
using ILGPU.Algorithms;

namespace Qwen3Next.Ops.Basic;

/// <summary>ILGPU kernels for the generic ops. Activations float32 row-major; weights bf16 <c>[out, in]</c>.</summary>
public static class BasicKernels
{
    public const int NormGroup = 32;
    public const int GemvWarps = 1;
    public const int Tile = 32;

    /// <summary>One thread per output value: y[t, c] = table[token[t], c].</summary>
    public static void Embed(Index1D i, ArrayView<int> tokens, ArrayView<ushort> table, ArrayView<float> y, int width)
    {
        int t = i / width, c = i % width;
        y[i] = KernelMath.Bf16(table[((long)tokens[t] * width) + c]);
    }

    /// <summary>One group per row: a strided sum of squares, a group reduction, then the scaled write.</summary>
    public static void RmsNorm(ArrayView<float> x, ArrayView<float> w, ArrayView<float> y, int dim, float eps, int zeroCentred)
    {
        var scratch = SharedMemory.Allocate<float>(32);
        long row = (long)Grid.IdxX * dim;
        float sq = 0;
        for (int i = Group.IdxX; i < dim; i += Group.DimX)
        {
            float v = x[row + i];
            sq += v * v;
        }

        float inv = XMath.Rsqrt((KernelMath.GroupSum(sq, scratch) / dim) + eps);
        for (int i = Group.IdxX; i < dim; i += Group.DimX)
        {
            float scale = zeroCentred != 0 ? 1f + w[i] : w[i];
            y[row + i] = x[row + i] * inv * scale;
        }
    }

    /// <summary>
    /// Decode-shaped matmul (few rows): one warp per output feature, lanes stride along the input so
    /// the bf16 weight row is read coalesced and exactly once per input row; a warp shuffle reduces.
    /// </summary>
    public static void Gemv(ArrayView<float> x, ArrayView<ushort> w, ArrayView<float> y, int rows, int outFeatures, int inFeatures)
    {
        int o = (Grid.IdxX * GemvWarps) + Warp.WarpIdx;
        if (o >= outFeatures)
        {
            return;
        }

        long wRow = (long)o * inFeatures;
        for (int r = 0; r < rows; r++)
        {
            long xRow = (long)r * inFeatures;
            float acc = 0;
            for (int k = Warp.LaneIdx; k < inFeatures; k += Warp.WarpSize)
            {
                acc += x[xRow + k] * KernelMath.Bf16(w[wRow + k]);
            }

            acc = KernelMath.WarpSum(acc);
            if (Warp.LaneIdx == 0)
            {
                y[((long)r * outFeatures) + o] = acc;
            }
        }
    }

    /// <summary>
    /// Prefill-shaped matmul: a 32×32 output tile per group of 16×16 threads, each thread 2×2 outputs;
    /// 32-wide k slices of x and W are staged in shared memory (padded rows avoid bank conflicts).
    /// </summary>
    public static void Gemm(ArrayView<float> x, ArrayView<ushort> w, ArrayView<float> y, int rows, int outFeatures, int inFeatures)
    {
        var xs = SharedMemory.Allocate<float>(Tile * (Tile + 1));
        var ws = SharedMemory.Allocate<float>(Tile * (Tile + 1));
        int tx = Group.IdxX, ty = Group.IdxY;
        int rowBase = Grid.IdxY * Tile, outBase = Grid.IdxX * Tile;
        int linear = (ty * Group.DimX) + tx;
        float a00 = 0, a01 = 0, a10 = 0, a11 = 0;
        for (int k0 = 0; k0 < inFeatures; k0 += Tile)
        {
            for (int e = linear; e < Tile * Tile; e += Group.DimX * Group.DimY)
            {
                int rr = e / Tile, kk = e % Tile;
                int r = rowBase + rr, o = outBase + rr, k = k0 + kk;
                xs[(rr * (Tile + 1)) + kk] = r < rows && k < inFeatures ? x[((long)r * inFeatures) + k] : 0f;
                ws[(rr * (Tile + 1)) + kk] = o < outFeatures && k < inFeatures ? KernelMath.Bf16(w[((long)o * inFeatures) + k]) : 0f;
            }

            Group.Barrier();
            for (int kk = 0; kk < Tile; kk++)
            {
                float x0 = xs[(ty * (Tile + 1)) + kk], x1 = xs[((ty + 16) * (Tile + 1)) + kk];
                float w0 = ws[(tx * (Tile + 1)) + kk], w1 = ws[((tx + 16) * (Tile + 1)) + kk];
                a00 += x0 * w0;
                a01 += x0 * w1;
                a10 += x1 * w0;
                a11 += x1 * w1;
            }

            Group.Barrier();
        }

        Store(y, rowBase + ty, outBase + tx, a00, rows, outFeatures);
        Store(y, rowBase + ty, outBase + tx + 16, a01, rows, outFeatures);
        Store(y, rowBase + ty + 16, outBase + tx, a10, rows, outFeatures);
        Store(y, rowBase + ty + 16, outBase + tx + 16, a11, rows, outFeatures);
    }

    public static void Add(Index1D i, ArrayView<float> accumulator, ArrayView<float> addend) => accumulator[i] += addend[i];

    /// <summary>One group per row: per-thread best, then a shared-memory tree that keeps the lowest index on ties.</summary>
    public static void ArgmaxRows(ArrayView<float> x, ArrayView<int> result, int cols)
    {
        var values = SharedMemory.Allocate<float>(NormGroup);
        var indices = SharedMemory.Allocate<int>(NormGroup);
        long row = (long)Grid.IdxX * cols;
        float best = float.NegativeInfinity;
        int bestIndex = int.MaxValue;
        for (int i = Group.IdxX; i < cols; i += Group.DimX)
        {
            float v = x[row + i];
            if (v > best)
            {
                best = v;
                bestIndex = i;
            }
        }

        values[Group.IdxX] = best;
        indices[Group.IdxX] = bestIndex;
        Group.Barrier();
        for (int stride = Group.DimX / 2; stride > 0; stride /= 2)
        {
            if (Group.IdxX < stride)
            {
                float other = values[Group.IdxX + stride];
                int otherIndex = indices[Group.IdxX + stride];
                if (other > values[Group.IdxX] || (other == values[Group.IdxX] && otherIndex < indices[Group.IdxX]))
                {
                    values[Group.IdxX] = other;
                    indices[Group.IdxX] = otherIndex;
                }
            }

            Group.Barrier();
        }

        if (Group.IdxX == 0)
        {
            result[Grid.IdxX] = indices[0];
        }
    }

    private static void Store(ArrayView<float> y, int r, int o, float value, int rows, int outFeatures)
    {
        if (r < rows && o < outFeatures)
        {
            y[((long)r * outFeatures) + o] = value;
        }
    }
}
