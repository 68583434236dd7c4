using ILGPU;
using ILGPU.Algorithms;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Ops.Attention;

/// <summary>
/// Causal flash attention over a paged KV cache with GQA sharing and the sigmoid output gate, for a packed batch.
/// A work unit is (kv head j, entry of the host's unit list = tile of one sequence's tokens and a KV range): its
/// <see cref="AttentionLaunchDims.Rows"/> query rows are the tile's tokens × the Group query heads that read kv head j,
/// so every K/V tile staged in shared memory is used by the whole GQA group. Token i of sequence b sits at cache index
/// ctx[b] − len(b) + i and sees cache indices up to it; cache rows are found through b's block table. Softmax is online in float32 (running max m, sum l, unnormalised O).
/// Per KV tile there are four barriers: after the K/V load, after the scores, after the row statistics,
/// and after the O update (the next load overwrites K/V). With one split the epilogue writes
/// <c>y = O/l ⊙ sigmoid(gate)</c>; with several it writes partial (O, m, l) for <see cref="Combine"/>.
/// </summary>
public static class FlashAttentionKernels
{
    /// <summary>Floats per K (and per V) tile; K rows are padded to D+1 so lanes reading different keys avoid bank conflicts.</summary>
    public const int KvFloats = 2112;

    /// <summary>Floats of the O accumulator (Rows·D): 16 rows at D=256.</summary>
    public const int AccumulatorFloats = 4096;

    /// <summary>Floats of the score/probability tile (Rows·KvTile).</summary>
    public const int ScoreFloats = 2048;

    public const int MaxRows = 64;

    public const int MaxKvTile = 64;

    /// <summary>
    /// Partials layout (Splits &gt; 1): O <c>[T, Hq, Splits, D]</c> unnormalised, stats <c>[T, Hq, Splits, 2]</c> = (m, l).
    /// </summary>
    public static void Flash(AttentionLaunchDims a, ArrayView<int> batch, ArrayView<int> work, ArrayView<float> queries, ArrayView<float> qg,
        ArrayView<float> keyPages, ArrayView<float> valuePages, ArrayView<float> y, ArrayView<float> partialO, ArrayView<float> partialStats)
    {
        var ks = SharedMemory.Allocate<float>(KvFloats);
        var vs = SharedMemory.Allocate<float>(KvFloats);
        var o = SharedMemory.Allocate<float>(AccumulatorFloats);
        var s = SharedMemory.Allocate<float>(ScoreFloats);
        var m = SharedMemory.Allocate<float>(MaxRows);
        var l = SharedMemory.Allocate<float>(MaxRows);
        var alpha = SharedMemory.Allocate<float>(MaxRows);

        int d = a.HeadDim, rows = a.Rows, group = a.Group, bk = a.KvTile, kStride = d + 1;
        int tid = Group.IdxX, threads = Group.DimX;
        var layout = a.Batch;
        int units = a.KeyValueHeads * a.Units, pageSize = a.PageSize;
        for (int u = Grid.IdxX; u < units; u += Grid.DimX)
        {
            int entry = (u % a.Units) * AttentionLaunchDims.UnitInts, j = u / a.Units;
            int b = work[entry], t0 = work[entry + 1], split = work[entry + 2], kvStart = work[entry + 3], kvStop = work[entry + 4];
            int first = batch[layout.CuSeqlens + b], length = batch[layout.CuSeqlens + b + 1] - first;
            int cached = batch[layout.ContextLengths + b] - length;
            int validTokens = XMath.Min(a.TokensPerTile, length - t0);
            int table = layout.BlockTables + (b * layout.MaxPages);

            // Each thread initialises exactly the rows/elements it updates later, so no barrier is needed here.
            for (int r = tid; r < rows; r += threads)
            {
                m[r] = float.NegativeInfinity;
                l[r] = 0f;
            }

            for (int e = tid; e < rows * d; e += threads)
            {
                o[e] = 0f;
            }

            // An empty KV split (a short context in a decode batch split for a longer one) goes straight to the
            // epilogue, whose threads read rows other threads initialised: publish them first (the condition is the
            // same for the whole group).
            if (kvStart >= kvStop)
            {
                Group.Barrier();
            }

            for (int c0 = kvStart; c0 < kvStop; c0 += bk)
            {
                int n = XMath.Min(bk, kvStop - c0);
                for (int e = tid; e < n * d; e += threads)
                {
                    int c = e / d, i = e % d, row = c0 + c;
                    long at = ((((long)batch[table + (row / pageSize)] * a.KeyValueHeads) + j) * pageSize + (row % pageSize)) * d + i;
                    ks[(c * kStride) + i] = keyPages[at];
                    vs[(c * d) + i] = valuePages[at];
                }

                Group.Barrier();
                for (int e = tid; e < rows * n; e += threads)
                {
                    int r = e / n, c = e % n;
                    int tokenInTile = XMath.Min(r / group, validTokens - 1);
                    int position = cached + t0 + tokenInTile;
                    float score = float.NegativeInfinity;
                    if (c0 + c <= position)
                    {
                        long q = ((long)(((first + t0 + tokenInTile) * a.QueryHeads) + (j * group) + (r % group))) * d;
                        int kRow = c * kStride;
                        float dot = 0f;
                        for (int i = 0; i < d; i++)
                        {
                            dot += queries[q + i] * ks[kRow + i];
                        }

                        score = dot * a.Scale;
                    }

                    s[(r * bk) + c] = score;
                }

                Group.Barrier();
                for (int r = tid; r < rows; r += threads)
                {
                    float previous = m[r], max = previous;
                    for (int c = 0; c < n; c++)
                    {
                        max = XMath.Max(max, s[(r * bk) + c]);
                    }

                    float sum = 0f;
                    for (int c = 0; c < n; c++)
                    {
                        float p = max == float.NegativeInfinity ? 0f : XMath.Exp(s[(r * bk) + c] - max);
                        s[(r * bk) + c] = p;
                        sum += p;
                    }

                    float rescale = previous == float.NegativeInfinity ? 0f : XMath.Exp(previous - max);
                    m[r] = max;
                    l[r] = (l[r] * rescale) + sum;
                    alpha[r] = rescale;
                }

                Group.Barrier();
                for (int e = tid; e < rows * d; e += threads)
                {
                    int r = e / d, i = e % d;
                    float acc = o[e] * alpha[r];
                    int sRow = r * bk;
                    for (int c = 0; c < n; c++)
                    {
                        acc += s[sRow + c] * vs[(c * d) + i];
                    }

                    o[e] = acc;
                }

                Group.Barrier();
            }

            for (int e = tid; e < rows * d; e += threads)
            {
                int r = e / d, i = e % d;
                int tokenInTile = r / group;
                if (tokenInTile >= validTokens)
                {
                    continue;
                }

                long head = ((long)(first + t0 + tokenInTile) * a.QueryHeads) + (j * group) + (r % group);
                if (a.Splits == 1)
                {
                    float gate = qg[(head * 2 * d) + d + i];
                    y[(head * d) + i] = o[e] / l[r] * KernelMath.Sigmoid(gate);
                }
                else
                {
                    long part = (head * a.Splits) + split;
                    partialO[(part * d) + i] = o[e];
                    if (i == 0)
                    {
                        partialStats[part * 2] = m[r];
                        partialStats[(part * 2) + 1] = l[r];
                    }
                }
            }

            // The next unit re-initialises m, l and O, which other threads may still be reading here.
            Group.Barrier();
        }
    }

    /// <summary>
    /// Merges the Splits partials of each (token, query head): M = max m_s, L = Σ l_s·e^(m_s−M),
    /// y = Σ O_s·e^(m_s−M) / L ⊙ sigmoid(gate). One group per row, threads along D; no barriers
    /// (every thread recomputes M and L from the few stats, which is cheaper than sharing them).
    /// </summary>
    public static void Combine(AttentionLaunchDims a, ArrayView<float> qg, ArrayView<float> partialO, ArrayView<float> partialStats, ArrayView<float> y)
    {
        int d = a.HeadDim, splits = a.Splits;
        int units = a.Tokens * a.QueryHeads;
        for (int u = Grid.IdxX; u < units; u += Grid.DimX)
        {
            long first = (long)u * splits;
            float max = float.NegativeInfinity;
            for (int sp = 0; sp < splits; sp++)
            {
                max = XMath.Max(max, partialStats[(first + sp) * 2]);
            }

            float total = 0f;
            for (int sp = 0; sp < splits; sp++)
            {
                float ms = partialStats[(first + sp) * 2];
                total += ms == float.NegativeInfinity ? 0f : partialStats[((first + sp) * 2) + 1] * XMath.Exp(ms - max);
            }

            for (int i = Group.IdxX; i < d; i += Group.DimX)
            {
                float acc = 0f;
                for (int sp = 0; sp < splits; sp++)
                {
                    float ms = partialStats[(first + sp) * 2];
                    acc += ms == float.NegativeInfinity ? 0f : partialO[((first + sp) * d) + i] * XMath.Exp(ms - max);
                }

                float gate = qg[((long)u * 2 * d) + d + i];
                y[((long)u * d) + i] = acc / total * KernelMath.Sigmoid(gate);
            }
        }
    }
}
