using ILGPU;
using ILGPU.Algorithms;

namespace Qwen3Next.Ops.Attention;

/// <summary>
/// Prologue of the fused attention: zero-centred RMSNorm <c>x·rsqrt(mean(x²)+eps)·(1+w)</c> of every query
/// and key head over D, then rotate-half RoPE on the first rotary_dim dims (dim i pairs with i + rotary/2)
/// at position Cached + t. Queries go to the scratch <c>[T, Hq, D]</c>; rotated keys and raw values are written
/// into the cache <c>[Hkv, Capacity, D]</c>. cos/sin come from <see cref="RopeTable"/> <c>[positions, (cos half | sin half)]</c>,
/// built on the host with the reference's float32 formula so cached keys match it bit for bit in the angle.
/// </summary>
public static class QkNormRopeKernels
{
    /// <summary>Largest group the partial-sum scratch holds (two buffers, alternating per unit).</summary>
    public const int MaxGroup = 1024;

    /// <summary>
    /// One group per head row (T·(Hq+Hkv) units, grid-stride). Each thread sums the squares of a strided
    /// slice, writes its partial to shared memory, and after ONE barrier every thread adds the partials in
    /// the same order; the partial buffer alternates between units so no second barrier is needed.
    /// </summary>
    public static void NormRope(AttentionLaunchDims a, ArrayView<float> qg, ArrayView<float> k, ArrayView<float> v,
        ArrayView<float> qNorm, ArrayView<float> kNorm, ArrayView<float> rope, ArrayView<float> queries,
        ArrayView<float> keyCache, ArrayView<float> valueCache)
    {
        var partials = SharedMemory.Allocate<float>(2 * MaxGroup);
        int d = a.HeadDim, heads = a.QueryHeads + a.KeyValueHeads, half = a.RotaryDim / 2;
        int units = a.Tokens * heads;
        int parity = 0;
        for (int u = Grid.IdxX; u < units; u += Grid.DimX)
        {
            int t = u / heads, head = u % heads, pos = a.Cached + t;
            bool isQuery = head < a.QueryHeads;
            int j = head - a.QueryHeads;
            long src = isQuery ? ((long)((t * a.QueryHeads) + head)) * 2 * d : ((long)((t * a.KeyValueHeads) + j)) * d;
            long dst = isQuery ? ((long)((t * a.QueryHeads) + head)) * d : ((long)((j * a.Capacity) + pos)) * d;
            var x = isQuery ? qg : k;
            var w = isQuery ? qNorm : kNorm;
            var y = isQuery ? queries : keyCache;

            float sq = 0;
            for (int i = Group.IdxX; i < d; i += Group.DimX)
            {
                float xi = x[src + i];
                sq += xi * xi;
                if (!isQuery)
                {
                    valueCache[dst + i] = v[src + i];
                }
            }

            int buffer = parity * MaxGroup;
            partials[buffer + Group.IdxX] = sq;
            Group.Barrier();
            float total = 0;
            for (int g = 0; g < Group.DimX; g++)
            {
                total += partials[buffer + g];
            }

            float inv = 1f / XMath.Sqrt((total / d) + a.Eps);
            long ropeRow = (long)pos * a.RotaryDim;
            for (int i = Group.IdxX; i < d; i += Group.DimX)
            {
                float xi = x[src + i] * inv * (1f + w[i]);
                if (i < a.RotaryDim)
                {
                    int f = i < half ? i : i - half;
                    int partner = i < half ? i + half : i - half;
                    float cos = rope[ropeRow + f], sin = rope[ropeRow + half + f];
                    float xp = x[src + partner] * inv * (1f + w[partner]);
                    xi = i < half ? (xi * cos) - (xp * sin) : (xi * cos) + (xp * sin);
                }

                y[dst + i] = xi;
            }

            parity ^= 1;
        }
    }
}
