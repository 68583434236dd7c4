using ILGPU;
using ILGPU.Algorithms;

namespace Qwen3Next.Ops.Moe;

/// <summary>
/// Routing and the expert-sorted permutation, all on the device with no host sync:
/// <see cref="Route"/> (softmax, top-k, renormalise, per-expert counts) then <see cref="Permute"/>
/// (prefix sums over experts, the tile list of the grouped GEMM and the scatter of (token, j) pairs).
/// Layouts: logits <c>[T, E]</c>; selected and weights <c>[T, k]</c> in descending probability; a pair is
/// <c>p = t·k + j</c>; <c>gather[pos] = p</c> lists pairs expert by expert and <c>pairPos[p] = pos</c> inverts it.
/// </summary>
public static class MoeRoutingKernels
{
    /// <summary>Softmax probabilities are staged in shared memory: the real model has 512 experts.</summary>
    public const int MaxExperts = 512;

    public const int MaxTopK = 32;

    /// <summary>Largest group the shared partial arrays can hold.</summary>
    public const int MaxGroup = 1024;

    /// <summary>
    /// One group per token (grid-stride). Max and sum go through per-thread partials in shared memory that every
    /// thread then reads in the same order (one barrier each, no shuffles, identical results in every thread).
    /// Top-k by rank: an expert's rank is the number of experts before it in <see cref="RoutingOrder"/> (higher
    /// probability, or an equal one and a lower id; NaN last), a strict total order, so the ranks are a permutation,
    /// every winner slot is written and the k winners land directly in descending order; a scan stops as soon as
    /// the rank reaches k, which for a random row costs about k·ln(E) comparisons per expert.
    /// Barriers per token: 5. The k winners bump <paramref name="counts"/> (zeroed by the launcher) atomically.
    /// </summary>
    public static void Route(ArrayView<float> logits, ArrayView<int> selected, ArrayView<float> weights, ArrayView<int> counts,
        int tokens, int experts, int topK, int normalize)
    {
        var probs = SharedMemory.Allocate<float>(MaxExperts);
        var partialMax = SharedMemory.Allocate<float>(MaxGroup);
        var partialSum = SharedMemory.Allocate<float>(MaxGroup);
        var winners = SharedMemory.Allocate<int>(MaxTopK);
        int tid = Group.IdxX, groupSize = Group.DimX;
        for (int t = Grid.IdxX; t < tokens; t += Grid.DimX)
        {
            long row = (long)t * experts;
            float localMax = float.NegativeInfinity;
            for (int e = tid; e < experts; e += groupSize)
            {
                localMax = XMath.Max(localMax, logits[row + e]);
            }

            partialMax[tid] = localMax;
            Group.Barrier();
            float max = float.NegativeInfinity;
            for (int u = 0; u < groupSize; u++)
            {
                max = XMath.Max(max, partialMax[u]);
            }

            float localSum = 0;
            for (int e = tid; e < experts; e += groupSize)
            {
                float v = XMath.Exp(logits[row + e] - max);
                probs[e] = v;
                localSum += v;
            }

            partialSum[tid] = localSum;
            Group.Barrier();
            float sum = 0;
            for (int u = 0; u < groupSize; u++)
            {
                sum += partialSum[u];
            }

            for (int e = tid; e < experts; e += groupSize)
            {
                probs[e] /= sum;
            }

            Group.Barrier();
            for (int e = tid; e < experts; e += groupSize)
            {
                float p = probs[e];
                int rank = 0;
                for (int other = 0; other < experts && rank < topK; other++)
                {
                    float q = probs[other];
                    if (RoutingOrder.Before(q, other, p, e))
                    {
                        rank++;
                    }
                }

                if (rank < topK)
                {
                    winners[rank] = e;
                }
            }

            Group.Barrier();
            if (tid < topK)
            {
                // Every thread sums the k winners in rank order, as the reference does, so the weights are exact.
                float total = 0;
                for (int j = 0; j < topK; j++)
                {
                    total += probs[winners[j]];
                }

                int expert = winners[tid];
                float w = probs[expert];
                selected[((long)t * topK) + tid] = expert;
                weights[((long)t * topK) + tid] = normalize != 0 ? w / total : w;
                Atomic.Add(ref counts[expert], 1);
            }

            Group.Barrier();
        }
    }

    /// <summary>
    /// A single group. Each thread owns a contiguous run of experts: it sums their row and tile counts into a
    /// shared partial, one barrier, then adds the partials before its own to get its exclusive prefix.
    /// <c>rowOffsets[E+1]</c> start each expert's rows in the sorted order; <c>tileOffsets[E+1]</c> number the
    /// <paramref name="rowTile"/>-row tiles of the grouped GEMM (empty experts own none), so its launch grid needs no count
    /// from the host. The scatter takes positions from per-expert shared cursors: rows of an expert land in any
    /// order, which is harmless because every row is computed independently and the un-permute reads by pair.
    /// Barriers: 2.
    /// </summary>
    public static void Permute(ArrayView<int> selected, ArrayView<int> counts, ArrayView<int> rowOffsets, ArrayView<int> tileOffsets,
        ArrayView<int> gather, ArrayView<int> pairPos, int experts, int pairs, int rowTile)
    {
        var cursor = SharedMemory.Allocate<int>(MaxExperts);
        var partialRows = SharedMemory.Allocate<int>(MaxGroup);
        var partialTiles = SharedMemory.Allocate<int>(MaxGroup);
        int tid = Group.IdxX, groupSize = Group.DimX;
        int run = (experts + groupSize - 1) / groupSize;
        int first = XMath.Min(experts, tid * run), end = XMath.Min(experts, first + run);
        int rows = 0, tiles = 0;
        for (int e = first; e < end; e++)
        {
            int c = counts[e];
            rows += c;
            tiles += (c + rowTile - 1) / rowTile;
        }

        partialRows[tid] = rows;
        partialTiles[tid] = tiles;
        Group.Barrier();
        int rowBase = 0, tileBase = 0;
        for (int u = 0; u < tid; u++)
        {
            rowBase += partialRows[u];
            tileBase += partialTiles[u];
        }

        for (int e = first; e < end; e++)
        {
            int c = counts[e];
            rowOffsets[e] = rowBase;
            tileOffsets[e] = tileBase;
            cursor[e] = rowBase;
            rowBase += c;
            tileBase += (c + rowTile - 1) / rowTile;
        }

        if (tid == groupSize - 1)
        {
            rowOffsets[experts] = rowBase;
            tileOffsets[experts] = tileBase;
        }

        Group.Barrier();
        for (int p = tid; p < pairs; p += groupSize)
        {
            int pos = Atomic.Add(ref cursor[selected[p]], 1);
            gather[pos] = p;
            pairPos[p] = pos;
        }
    }
}
