using ILGPU;
using ILGPU.Algorithms;

namespace Qwen3Next.Ops.Basic;

/// <summary>
/// ILGPU kernels for the generic ops. Activations float32 row-major; weights bf16 <c>[out, in]</c>.
/// Every kernel loops grid-stride over its work units so the launcher can size the grid per accelerator.
/// </summary>
public static class BasicKernels
{
    /// <summary>Largest group any launcher here uses; shared scratch is sized for it.</summary>
    public const int MaxGroup = 256;

    /// <summary>k-slice of the weight-stationary matmul staged in shared memory per barrier pair.</summary>
    public const int GemvSlice = 64;

    /// <summary>Output features per group of the weight-stationary matmul (one per thread).</summary>
    public const int GemvMaxGroup = 128;

    public const int Tile = 32;

    public static void Embed(Index1D i, ArrayView<int> tokens, ArrayView<ushort> table, ArrayView<float> y, int width)
    {
        int t = i / width, c = i % width;
        y[i] = KernelMath.Bf16(table[((long)tokens[t] * width) + c]);
    }

    /// <summary>One group per row (grid-stride): strided sum of squares, a shared-memory group sum, the scaled write.</summary>
    public static void RmsNorm(ArrayView<float> x, ArrayView<float> w, ArrayView<float> y, int rows, int dim, float eps, int zeroCentred)
    {
        var scratch = SharedMemory.Allocate<float>(MaxGroup);
        for (int r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long row = (long)r * dim;
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
    }

    /// <summary>
    /// Weight-stationary matmul for few rows (decode) and for the CPU accelerator: a group owns one output
    /// feature per thread; each 64-wide k-slice of those weight rows is loaded coalesced (adjacent threads,
    /// adjacent k) into shared memory once and then used for every input row, so each weight byte is read
    /// once per call. Partial sums accumulate in y (each (row, feature) is owned by one thread).
    /// </summary>
    public static void Gemv(ArrayView<float> x, ArrayView<ushort> w, ArrayView<float> y, int rows, int outFeatures, int inFeatures)
    {
        const int Stride = GemvSlice + 1;
        var ws = SharedMemory.Allocate<float>(GemvMaxGroup * Stride);
        int g = Group.DimX, tid = Group.IdxX;
        int blocks = (outFeatures + g - 1) / g;
        for (int block = Grid.IdxX; block < blocks; block += Grid.DimX)
        {
            int first = block * g, o = first + tid;
            for (int k0 = 0; k0 < inFeatures; k0 += GemvSlice)
            {
                int width = XMath.Min(GemvSlice, inFeatures - k0);
                for (int e = tid; e < g * GemvSlice; e += g)
                {
                    int i = e / GemvSlice, j = e % GemvSlice, row = first + i;
                    ws[(i * Stride) + j] = row < outFeatures && j < width ? KernelMath.Bf16(w[((long)row * inFeatures) + k0 + j]) : 0f;
                }

                Group.Barrier();
                if (o < outFeatures)
                {
                    for (int r = 0; r < rows; r++)
                    {
                        long xr = ((long)r * inFeatures) + k0;
                        float acc = 0;
                        for (int j = 0; j < width; j++)
                        {
                            acc += ws[(tid * Stride) + j] * x[xr + j];
                        }

                        long yi = ((long)r * outFeatures) + o;
                        y[yi] = k0 == 0 ? acc : y[yi] + acc;
                    }
                }

                Group.Barrier();
            }
        }
    }

    /// <summary>
    /// Register-tiled matmul for many rows on a GPU: a 32×32 output tile per group of 16×16 threads, each
    /// thread 2×2 outputs; 32-wide k-slices of x and W are staged in shared memory (rows padded by one
    /// to avoid bank conflicts), so each loaded value feeds 32 multiply-adds.
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

    /// <summary>One group per row (grid-stride): per-thread best, shared partials, one thread picks (lowest index on ties).</summary>
    public static void ArgmaxRows(ArrayView<float> x, ArrayView<int> result, int rows, int cols)
    {
        var values = SharedMemory.Allocate<float>(MaxGroup);
        var indices = SharedMemory.Allocate<int>(MaxGroup);
        for (int r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long row = (long)r * cols;
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
            if (Group.IdxX == 0)
            {
                for (int i = 1; i < Group.DimX; i++)
                {
                    if (values[i] > best || (values[i] == best && indices[i] < bestIndex))
                    {
                        best = values[i];
                        bestIndex = indices[i];
                    }
                }

                // No value above -∞ (all NaN or -∞): 0, like the CUDA C kernel, never an index outside the row.
                result[r] = bestIndex == int.MaxValue ? 0 : bestIndex;
            }

            Group.Barrier();
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
