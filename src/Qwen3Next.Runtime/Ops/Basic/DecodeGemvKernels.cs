using ILGPU;

namespace Qwen3Next.Ops.Basic;

/// <summary>
/// The decode matmul (few rows) for GPUs, built to keep HBM busy: one warp per pair of output features, each lane
/// reading 8-byte chunks of 4 bf16 weights (coalesced across the warp) and the matching 16 bytes of activations as one
/// vector load. Per step a lane issues all of its loads — <see cref="ChunksPerStep"/> chunks of both weight rows and
/// the activations of two input rows, 16 loads — before it uses any, so a warp has them all in flight per round trip
/// (<see cref="BasicKernels.Gemv"/> stages one bf16 per iteration through shared memory, one load in flight). Warp
/// shuffles reduce the partial sums, so this kernel is for CUDA (and its PTX on the emulator); ILGPU's CPU accelerator,
/// where a shuffle costs milliseconds, keeps the weight-stationary kernel.
/// </summary>
public static class DecodeGemvKernels
{
    /// <summary>8-byte chunks per lane per step: 4 × 4 bf16 × 32 lanes = 512 weights of a row per warp step.</summary>
    public const int ChunksPerStep = 4;

    /// <summary>Threads per group (4 warps).</summary>
    public const int GroupSize = 128;

    /// <summary>
    /// <c>y[r, o] = Σ_k x[r, k]·W[o, k]</c> with <paramref name="w4"/> the weights as 8-byte chunks and
    /// <paramref name="x4"/> the activations as 16-byte quads (in % 4 == 0). Warps stride over feature pairs; rows go
    /// two at a time (a pair's weights are re-read per row pair, from L2).
    /// </summary>
    public static void WarpPerFeaturePair(ArrayView<Float4> x4, ArrayView<ulong> w4, ArrayView<float> y, int rows, int outFeatures, int inFeatures)
    {
        int lane = Warp.LaneIdx;
        int warpsPerGroup = Group.DimX / Warp.WarpSize;
        int totalWarps = Grid.DimX * warpsPerGroup;
        int chunks = inFeatures / 4;
        int pairs = (outFeatures + 1) / 2;
        for (int pair = (Grid.IdxX * warpsPerGroup) + (Group.IdxX / Warp.WarpSize); pair < pairs; pair += totalWarps)
        {
            int f0 = pair * 2;
            bool second = f0 + 1 < outFeatures;
            long w0 = (long)f0 * chunks, w1 = w0 + chunks;
            int secondChunks = second ? chunks : 0; // an odd last feature: no second weight row to read
            for (int r0 = 0; r0 < rows; r0 += 2)
            {
                bool twoRows = r0 + 1 < rows;
                long x0 = (long)r0 * chunks, x1 = x0 + chunks;
                float a00 = 0, a01 = 0, a10 = 0, a11 = 0;
                for (int c0 = 0; c0 < chunks; c0 += ChunksPerStep * Warp.WarpSize)
                {
                    // Every load of the step first (weights of both features, activations of both rows)...
                    int c = c0 + lane;
                    ulong p0 = Chunk(w4, w0, c, chunks), p1 = Chunk(w4, w0, c + 32, chunks), p2 = Chunk(w4, w0, c + 64, chunks), p3 = Chunk(w4, w0, c + 96, chunks);
                    ulong q0 = Chunk(w4, w1, c, secondChunks), q1 = Chunk(w4, w1, c + 32, secondChunks), q2 = Chunk(w4, w1, c + 64, secondChunks), q3 = Chunk(w4, w1, c + 96, secondChunks);
                    Float4 u0 = Quad(x4, x0, c, chunks), u1 = Quad(x4, x0, c + 32, chunks), u2 = Quad(x4, x0, c + 64, chunks), u3 = Quad(x4, x0, c + 96, chunks);
                    int rowChunks = twoRows ? chunks : 0; // one row: no second row to read
                    Float4 v0 = Quad(x4, x1, c, rowChunks), v1 = Quad(x4, x1, c + 32, rowChunks), v2 = Quad(x4, x1, c + 64, rowChunks), v3 = Quad(x4, x1, c + 96, rowChunks);

                    // ...then their use (a chunk past the row's end is zero).
                    a00 += Dot(p0, u0) + Dot(p1, u1) + Dot(p2, u2) + Dot(p3, u3);
                    a01 += Dot(q0, u0) + Dot(q1, u1) + Dot(q2, u2) + Dot(q3, u3);
                    a10 += Dot(p0, v0) + Dot(p1, v1) + Dot(p2, v2) + Dot(p3, v3);
                    a11 += Dot(q0, v0) + Dot(q1, v1) + Dot(q2, v2) + Dot(q3, v3);
                }

                a00 = KernelMath.WarpSum(a00);
                a01 = KernelMath.WarpSum(a01);
                a10 = KernelMath.WarpSum(a10);
                a11 = KernelMath.WarpSum(a11);
                if (lane == 0)
                {
                    long y0 = ((long)r0 * outFeatures) + f0;
                    y[y0] = a00;
                    if (second)
                    {
                        y[y0 + 1] = a01;
                    }

                    if (twoRows)
                    {
                        y[y0 + outFeatures] = a10;
                        if (second)
                        {
                            y[y0 + outFeatures + 1] = a11;
                        }
                    }
                }
            }
        }
    }

    private static ulong Chunk(ArrayView<ulong> w4, long row, int c, int chunks) => c < chunks ? w4[row + c] : 0ul;

    private static Float4 Quad(ArrayView<Float4> x4, long row, int c, int chunks) => c < chunks ? x4[row + c] : default;

    /// <summary>4 bf16 weights (lowest address in the low half) times 4 activations.</summary>
    private static float Dot(ulong w, Float4 x)
    {
        uint lo = (uint)w, hi = (uint)(w >> 32);
        return (Interop.IntAsFloat(lo << 16) * x.X) + (Interop.IntAsFloat(lo & 0xFFFF0000u) * x.Y)
            + (Interop.IntAsFloat(hi << 16) * x.Z) + (Interop.IntAsFloat(hi & 0xFFFF0000u) * x.W);
    }
}

/// <summary>Four consecutive floats, loaded as one 16-byte vector (ILGPU emits ld.global.v4.f32 for it).</summary>
public struct Float4
{
    public float X;
    public float Y;
    public float Z;
    public float W;
}
