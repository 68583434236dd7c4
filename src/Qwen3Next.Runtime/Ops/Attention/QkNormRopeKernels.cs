using ILGPU;
using ILGPU.Algorithms;

namespace Qwen3Next.Ops.Attention;

/// <summary>
/// Prologue of the fused attention: zero-centred RMSNorm <c>x·rsqrt(mean(x²)+eps)·(1+w)</c> of every query
/// and key head over D, then rotate-half RoPE on the first rotary_dim dims (dim i pairs with i + rotary/2)
/// at the token's position. Queries go to the scratch <c>[T, Hq, D]</c>; rotated keys and raw values are written
/// into the pages <c>[pages, Hkv, PageSize, D]</c> at the token's cache index (ctx[b] − len(b) + i) through its
/// sequence's block table. cos/sin come from the shared <see cref="RopeTable"/> <c>[positions, (cos half | sin half)]</c>.
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
    public static void NormRope(AttentionLaunchDims a, ArrayView<int> batch, ArrayView<float> qg, ArrayView<float> k, ArrayView<float> v,
        ArrayView<float> qNorm, ArrayView<float> kNorm, ArrayView<float> rope, ArrayView<float> queries,
        ArrayView<float> keyPages, ArrayView<float> valuePages)
    {
        var partials = SharedMemory.Allocate<float>(2 * MaxGroup);
        int d = a.HeadDim, heads = a.QueryHeads + a.KeyValueHeads, half = a.RotaryDim / 2;
        int units = a.Tokens * heads;
        int parity = 0;
        for (int u = Grid.IdxX; u < units; u += Grid.DimX)
        {
            int t = u / heads, head = u % heads, pos = batch[a.Batch.Positions + t];
            bool isQuery = head < a.QueryHeads;
            int j = head - a.QueryHeads;
            long src = isQuery ? ((long)((t * a.QueryHeads) + head)) * 2 * d : ((long)((t * a.KeyValueHeads) + j)) * d;
            long dst = isQuery ? ((long)((t * a.QueryHeads) + head)) * d : PagedRow(a, batch, t, j);
            var x = isQuery ? qg : k;
            var w = isQuery ? qNorm : kNorm;
            var y = isQuery ? queries : keyPages;

            float sq = 0;
            for (int i = Group.IdxX; i < d; i += Group.DimX)
            {
                float xi = x[src + i];
                sq += xi * xi;
                if (!isQuery)
                {
                    valuePages[dst + i] = v[src + i];
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

    /// <summary>Element offset of token t's row of kv head j in the pages: its sequence b (binary search of cu_seqlens), its
    /// cache index ctx[b] − len(b) + (t − cu[b]), and that index's page from b's block table.</summary>
    private static long PagedRow(AttentionLaunchDims a, ArrayView<int> batch, int t, int j)
    {
        var layout = a.Batch;
        int lo = 0, hi = layout.Sequences - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (batch[layout.CuSeqlens + mid] <= t)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        int first = batch[layout.CuSeqlens + lo], length = batch[layout.CuSeqlens + lo + 1] - first;
        int index = batch[layout.ContextLengths + lo] - length + (t - first);
        int page = batch[layout.BlockTables + (lo * layout.MaxPages) + (index / a.PageSize)];
        return ((((long)page * a.KeyValueHeads) + j) * a.PageSize + (index % a.PageSize)) * a.HeadDim;
    }
}
