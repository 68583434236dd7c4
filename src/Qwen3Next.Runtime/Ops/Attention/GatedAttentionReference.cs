using Qwen3Next.Backends;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Ops.Attention;

/// <summary>
/// Reference of the gated attention mixer core over a packed batch and a paged cache. qg <c>[T, Hq, 2D]</c> per head
/// [query | gate]; k, v <c>[T, Hkv·D]</c>; key/value pages <c>[pages, Hkv, page_size, D]</c>; y <c>[T, Hq·D]</c>.
/// Token i of sequence b is rotated at its position and stored at cache index <c>ctx[b] − len(b) + i</c>, which it
/// attends up to; the cache keeps keys after k_norm and RoPE. Scores and softmax in float64.
/// </summary>
public static class GatedAttentionReference
{
    /// <summary>The contiguous single-sequence form: cache <c>[Hkv, capacity, D]</c>, tokens at positions <c>cached ..</c>.</summary>
    public static void Mixer(GatedAttentionShape s, int tokens, ReadOnlySpan<float> qg, ReadOnlySpan<float> k, ReadOnlySpan<float> v,
        ReadOnlySpan<float> qNorm, ReadOnlySpan<float> kNorm, Span<float> keyCache, Span<float> valueCache, int capacity, int cached,
        Span<float> y)
    {
        var batch = SequenceBatch.Single(cached, tokens);
        var rope = RopeTable.Build(s.RotaryDim, s.RopeTheta, RopeTable.RowsFor(cached + tokens));
        Mixer(s, batch, qg, k, v, qNorm, kNorm, keyCache, valueCache, capacity, rope, y);
    }

    public static void Mixer(GatedAttentionShape s, SequenceBatch batch, ReadOnlySpan<float> qg, ReadOnlySpan<float> k, ReadOnlySpan<float> v,
        ReadOnlySpan<float> qNorm, ReadOnlySpan<float> kNorm, Span<float> keyPages, Span<float> valuePages, int pageSize,
        ReadOnlySpan<float> rope, Span<float> y)
    {
        int d = s.HeadDim, tokens = batch.TotalTokens;
        var q = new float[tokens * s.QueryHeads * d];
        for (int b = 0; b < batch.Count; b++)
        {
            var pages = new PagedRows(batch, b, pageSize, s.KeyValueHeads, d);
            int first = batch.CuSeqlens[b], length = batch.Length(b), start = batch.ContextLengths[b] - length;
            for (int i = 0; i < length; i++)
            {
                int t = first + i, pos = batch.Positions[t];
                for (int h = 0; h < s.QueryHeads; h++)
                {
                    var qh = q.AsSpan(((t * s.QueryHeads) + h) * d, d);
                    RmsNormReference.Run(qg.Slice(((t * s.QueryHeads) + h) * 2 * d, d), qNorm, qh, 1, d, s.Eps, zeroCentred: true);
                    RopeTable.Rotate(qh, s.RotaryDim, pos, rope);
                }

                for (int j = 0; j < s.KeyValueHeads; j++)
                {
                    long row = pages.Row(j, start + i);
                    var kc = keyPages.Slice((int)row, d);
                    RmsNormReference.Run(k.Slice((t * s.KeyValueWidth) + (j * d), d), kNorm, kc, 1, d, s.Eps, zeroCentred: true);
                    RopeTable.Rotate(kc, s.RotaryDim, pos, rope);
                    v.Slice((t * s.KeyValueWidth) + (j * d), d).CopyTo(valuePages.Slice((int)row, d));
                }
            }
        }

        for (int b = 0; b < batch.Count; b++)
        {
            var pages = new PagedRows(batch, b, pageSize, s.KeyValueHeads, d);
            int first = batch.CuSeqlens[b], length = batch.Length(b), start = batch.ContextLengths[b] - length;
            for (int i = 0; i < length; i++)
            {
                Attend(s, first + i, start + i + 1, pages, q, qg, keyPages, valuePages, y);
            }
        }
    }

    /// <summary>y of token t over cache indices [0, <paramref name="visible"/>) of its sequence, every query head.</summary>
    private static void Attend(GatedAttentionShape s, int t, int visible, PagedRows pages, float[] q, ReadOnlySpan<float> qg,
        ReadOnlySpan<float> keyPages, ReadOnlySpan<float> valuePages, Span<float> y)
    {
        int d = s.HeadDim;
        var scores = new double[visible];
        var rows = new int[visible];
        for (int h = 0; h < s.QueryHeads; h++)
        {
            int j = h / s.Group;
            for (int p = 0; p < visible; p++)
            {
                rows[p] = (int)pages.Row(j, p);
            }

            var qh = q.AsSpan(((t * s.QueryHeads) + h) * d, d);
            double max = double.NegativeInfinity;
            for (int p = 0; p < visible; p++)
            {
                double dot = 0;
                var kp = keyPages.Slice(rows[p], d);
                for (int i = 0; i < d; i++)
                {
                    dot += (double)qh[i] * kp[i];
                }

                scores[p] = dot * s.Scale;
                max = Math.Max(max, scores[p]);
            }

            double total = 0;
            for (int p = 0; p < visible; p++)
            {
                scores[p] = Math.Exp(scores[p] - max);
                total += scores[p];
            }

            var gate = qg.Slice((((t * s.QueryHeads) + h) * 2 * d) + d, d);
            var yh = y.Slice((t * s.OutputWidth) + (h * d), d);
            for (int i = 0; i < d; i++)
            {
                double acc = 0;
                for (int p = 0; p < visible; p++)
                {
                    acc += scores[p] * valuePages[rows[p] + i];
                }

                yh[i] = (float)(acc / total) * Activations.Sigmoid(gate[i]);
            }
        }
    }

    /// <summary>Where cache index c of kv head j of one sequence lives in the page pool: page <c>table[c / page_size]</c>, row <c>c % page_size</c>.</summary>
    private readonly struct PagedRows(SequenceBatch batch, int b, int pageSize, int kvHeads, int headDim)
    {
        private readonly int[] table = batch.BlockTables.Slice(b * batch.MaxPagesPerSequence, batch.MaxPagesPerSequence).ToArray();

        public long Row(int j, int c) => ((((long)table[c / pageSize] * kvHeads) + j) * pageSize + (c % pageSize)) * headDim;
    }
}
