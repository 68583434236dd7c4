using Qwen3Next.Backends;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Ops.GatedDelta;

/// <summary>
/// Reference of the Gated DeltaNet mixer core (between the input projections and out_proj).
/// qkvz rows are grouped per key head g: [q_g Dk | k_g Dk | v of heads g·r.. (r·Dv) | z of the same heads (r·Dv)];
/// ba per key head: [b (r) | a (r)]. The conv runs over channels [q (Hk·Dk) | k (Hk·Dk) | v (Hv·Dv)].
/// </summary>
public static class GatedDeltaNetReference
{
    public static void Mixer(GatedDeltaNetShape s, int tokens, ReadOnlySpan<float> qkvz, ReadOnlySpan<float> ba,
        ReadOnlySpan<float> convWeight, ReadOnlySpan<float> aLog, ReadOnlySpan<float> dtBias, ReadOnlySpan<float> normWeight,
        Span<float> convState, Span<float> recurrentState, Span<float> y)
    {
        int convDim = s.ConvDim, vw = s.ValueWidth;
        var convIn = new float[tokens * convDim];
        var z = new float[tokens * vw];
        var b = new float[tokens * s.ValueHeads];
        var a = new float[tokens * s.ValueHeads];
        Ungroup(s, tokens, qkvz, ba, convIn, z, b, a);

        var convOut = new float[tokens * convDim];
        CausalConv1dReference.Run(convIn, convWeight, convState, convOut, tokens, convDim, s.ConvKernel);

        int qk = s.KeyHeads * s.KeyDim;
        var q = new float[tokens * qk];
        var k = new float[tokens * qk];
        var v = new float[tokens * vw];
        for (int t = 0; t < tokens; t++)
        {
            var row = convOut.AsSpan(t * convDim, convDim);
            row[..qk].CopyTo(q.AsSpan(t * qk));
            row.Slice(qk, qk).CopyTo(k.AsSpan(t * qk));
            row.Slice(2 * qk, vw).CopyTo(v.AsSpan(t * vw));
        }

        var g = new float[tokens * s.ValueHeads];
        var beta = new float[tokens * s.ValueHeads];
        Gates(s.ValueHeads, tokens, a, b, aLog, dtBias, g, beta);

        var o = new float[tokens * vw];
        var mode = tokens > 1 ? GatedDeltaMode.Chunked : GatedDeltaMode.Recurrent;
        GatedDeltaRuleReference.Run(s.Rule(tokens), q, k, v, g, beta, recurrentState, o, l2Normalize: true,
            scale: 1f / MathF.Sqrt(s.KeyDim), mode);

        RmsNormReference.Gated(o, z, normWeight, y, tokens * s.ValueHeads, s.ValueDim, s.Eps);
    }

    /// <summary>Splits the per-key-head groups into conv input [q | k | v], z, b and a in value-head order.</summary>
    public static void Ungroup(GatedDeltaNetShape s, int tokens, ReadOnlySpan<float> qkvz, ReadOnlySpan<float> ba,
        Span<float> convIn, Span<float> z, Span<float> b, Span<float> a)
    {
        int r = s.Group, dk = s.KeyDim, dv = s.ValueDim, groupWidth = (2 * dk) + (2 * r * dv);
        int qk = s.KeyHeads * dk;
        for (int t = 0; t < tokens; t++)
        {
            var src = qkvz.Slice(t * s.QkvzWidth, s.QkvzWidth);
            var dst = convIn.Slice(t * s.ConvDim, s.ConvDim);
            for (int grp = 0; grp < s.KeyHeads; grp++)
            {
                var group = src.Slice(grp * groupWidth, groupWidth);
                group[..dk].CopyTo(dst.Slice(grp * dk, dk));
                group.Slice(dk, dk).CopyTo(dst.Slice(qk + (grp * dk), dk));
                group.Slice(2 * dk, r * dv).CopyTo(dst.Slice((2 * qk) + (grp * r * dv), r * dv));
                group.Slice((2 * dk) + (r * dv), r * dv).CopyTo(z.Slice((t * s.ValueWidth) + (grp * r * dv), r * dv));
                for (int j = 0; j < r; j++)
                {
                    b[(t * s.ValueHeads) + (grp * r) + j] = ba[(t * s.BaWidth) + (grp * 2 * r) + j];
                    a[(t * s.ValueHeads) + (grp * r) + j] = ba[(t * s.BaWidth) + (grp * 2 * r) + r + j];
                }
            }
        }
    }

    /// <summary>g = −exp(A_log)·softplus(a + dt_bias) (a log-decay ≤ 0) and β = sigmoid(b), per value head.</summary>
    public static void Gates(int heads, int tokens, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> aLog,
        ReadOnlySpan<float> dtBias, Span<float> g, Span<float> beta)
    {
        for (int t = 0; t < tokens; t++)
        {
            for (int h = 0; h < heads; h++)
            {
                int i = (t * heads) + h;
                g[i] = -MathF.Exp(aLog[h]) * Activations.Softplus(a[i] + dtBias[h]);
                beta[i] = Activations.Sigmoid(b[i]);
            }
        }
    }
}
