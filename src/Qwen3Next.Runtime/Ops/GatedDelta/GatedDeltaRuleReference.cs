using Qwen3Next.Backends;

namespace Qwen3Next.Ops.GatedDelta;

/// <summary>
/// The gated delta rule in its two forms. Per value head h (key head h / r), state S <c>[Dk, Dv]</c>:
/// S = exp(g)·S; u = β(v − Sᵀk); S += k uᵀ; o = Sᵀq. Layouts: q, k <c>[T, Hk, Dk]</c>, v and o
/// <c>[T, Hv, Dv]</c>, g and β <c>[T, Hv]</c>, state <c>[Hv, Dk, Dv]</c> (in and out).
/// Dot products accumulate in float64 so the reference is the tighter side of every comparison.
/// </summary>
public static class GatedDeltaRuleReference
{
    public const int ChunkSize = 64;

    public static void Run(GatedDeltaShape s, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> g,
        ReadOnlySpan<float> beta, Span<float> state, Span<float> o, bool l2Normalize, float scale, GatedDeltaMode mode)
    {
        var qn = Normalise(q, s.Tokens * s.KeyHeads, s.KeyDim, l2Normalize, scale);
        var kn = Normalise(k, s.Tokens * s.KeyHeads, s.KeyDim, l2Normalize, 1f);
        var vArr = v.ToArray();
        var gArr = g.ToArray();
        var bArr = beta.ToArray();
        var stateArr = state.ToArray();
        var oArr = new float[o.Length];
        Parallel.For(0, s.ValueHeads, h =>
        {
            var head = new HeadView(s, h, qn, kn, vArr, gArr, bArr);
            var sh = new Span<float>(stateArr, h * s.KeyDim * s.ValueDim, s.KeyDim * s.ValueDim);
            if (mode == GatedDeltaMode.Recurrent)
            {
                RecurrentHead(head, sh, oArr);
            }
            else
            {
                ChunkedHead(head, sh, oArr);
            }
        });
        stateArr.CopyTo(state);
        oArr.CopyTo(o);
    }

    /// <summary>l2 normalisation <c>x·rsqrt(Σx² + 1e-6)</c> (optional) then scaling, per head row.</summary>
    public static float[] Normalise(ReadOnlySpan<float> x, int rows, int dim, bool l2, float scale)
    {
        var y = new float[rows * dim];
        for (int r = 0; r < rows; r++)
        {
            double sq = 0;
            for (int i = 0; i < dim; i++)
            {
                sq += (double)x[(r * dim) + i] * x[(r * dim) + i];
            }

            float factor = l2 ? scale / MathF.Sqrt((float)sq + 1e-6f) : scale;
            for (int i = 0; i < dim; i++)
            {
                y[(r * dim) + i] = x[(r * dim) + i] * factor;
            }
        }

        return y;
    }

    /// <summary>Index arithmetic for one value head.</summary>
    private readonly record struct HeadView(GatedDeltaShape S, int H, float[] Q, float[] K, float[] V, float[] G, float[] Beta)
    {
        public int KeyHead => H / S.Group;

        public ReadOnlySpan<float> QAt(int t) => Q.AsSpan(((t * S.KeyHeads) + KeyHead) * S.KeyDim, S.KeyDim);

        public ReadOnlySpan<float> KAt(int t) => K.AsSpan(((t * S.KeyHeads) + KeyHead) * S.KeyDim, S.KeyDim);

        public ReadOnlySpan<float> VAt(int t) => V.AsSpan(((t * S.ValueHeads) + H) * S.ValueDim, S.ValueDim);

        public float GAt(int t) => G[(t * S.ValueHeads) + H];

        public float BetaAt(int t) => Beta[(t * S.ValueHeads) + H];

        public int OIndex(int t) => ((t * S.ValueHeads) + H) * S.ValueDim;
    }

    private static void RecurrentHead(HeadView hv, Span<float> st, float[] o)
    {
        int dk = hv.S.KeyDim, dv = hv.S.ValueDim;
        var u = new double[dv];
        for (int t = 0; t < hv.S.Tokens; t++)
        {
            float decay = MathF.Exp(hv.GAt(t));
            for (int i = 0; i < st.Length; i++)
            {
                st[i] *= decay;
            }

            var kt = hv.KAt(t);
            var vt = hv.VAt(t);
            var qt = hv.QAt(t);
            float b = hv.BetaAt(t);
            for (int j = 0; j < dv; j++)
            {
                double sk = 0;
                for (int i = 0; i < dk; i++)
                {
                    sk += (double)st[(i * dv) + j] * kt[i];
                }

                u[j] = b * (vt[j] - sk);
            }

            for (int i = 0; i < dk; i++)
            {
                for (int j = 0; j < dv; j++)
                {
                    st[(i * dv) + j] += (float)(kt[i] * u[j]);
                }
            }

            int oi = hv.OIndex(t);
            for (int j = 0; j < dv; j++)
            {
                double acc = 0;
                for (int i = 0; i < dk; i++)
                {
                    acc += (double)st[(i * dv) + j] * qt[i];
                }

                o[oi + j] = (float)acc;
            }
        }
    }

    /// <summary>
    /// The WY chunked form. Within a chunk with cumulative gate γ: A = −tril(diag(β)KKᵀ ⊙ e^{γi−γj}, −1),
    /// T = (I − A)⁻¹ by forward substitution, U = T·diag(β)V, W = T·diag(β e^{γ})K. Across chunks:
    /// V' = U − W·S, O = (Q ⊙ e^{γ})S + tril(QKᵀ ⊙ e^{γi−γj})V', S ← e^{γ_last}S + (K ⊙ e^{γ_last−γ})ᵀV'.
    /// Tokens past T are treated as padding (g = 0, β = 0) and leave the state untouched.
    /// </summary>
    private static void ChunkedHead(HeadView hv, Span<float> st, float[] o)
    {
        int dk = hv.S.KeyDim, dv = hv.S.ValueDim, c = ChunkSize;
        var gamma = new double[c];
        var a = new double[c, c];
        var u = new double[c, dv];
        var w = new double[c, dk];
        var vNew = new double[c, dv];
        var s = new double[dk, dv];
        for (int i = 0; i < dk; i++)
        {
            for (int j = 0; j < dv; j++)
            {
                s[i, j] = st[(i * dv) + j];
            }
        }

        for (int start = 0; start < hv.S.Tokens; start += c)
        {
            int n = Math.Min(c, hv.S.Tokens - start);
            double cum = 0;
            for (int i = 0; i < n; i++)
            {
                cum += hv.GAt(start + i);
                gamma[i] = cum;
            }

            // A (strictly lower) then T = (I - A)^-1 in place, row by row.
            for (int i = 0; i < n; i++)
            {
                var ki = hv.KAt(start + i);
                double bi = hv.BetaAt(start + i);
                for (int j = 0; j < i; j++)
                {
                    a[i, j] = -bi * Dot(ki, hv.KAt(start + j)) * Math.Exp(gamma[i] - gamma[j]);
                }
            }

            for (int i = 1; i < n; i++)
            {
                for (int j = 0; j < i; j++)
                {
                    double acc = a[i, j];
                    for (int m = j + 1; m < i; m++)
                    {
                        acc += a[i, m] * a[m, j];
                    }

                    a[i, j] = acc;
                }
            }

            // U = T·diag(β)V and W = T·diag(β e^γ)K, with T's unit diagonal.
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < dv; j++)
                {
                    double acc = hv.BetaAt(start + i) * hv.VAt(start + i)[j];
                    for (int m = 0; m < i; m++)
                    {
                        acc += a[i, m] * hv.BetaAt(start + m) * hv.VAt(start + m)[j];
                    }

                    u[i, j] = acc;
                }

                for (int j = 0; j < dk; j++)
                {
                    double acc = hv.BetaAt(start + i) * Math.Exp(gamma[i]) * hv.KAt(start + i)[j];
                    for (int m = 0; m < i; m++)
                    {
                        acc += a[i, m] * hv.BetaAt(start + m) * Math.Exp(gamma[m]) * hv.KAt(start + m)[j];
                    }

                    w[i, j] = acc;
                }
            }

            // V' = U - W·S, then the output from the old state plus the intra-chunk part.
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < dv; j++)
                {
                    double acc = u[i, j];
                    for (int m = 0; m < dk; m++)
                    {
                        acc -= w[i, m] * s[m, j];
                    }

                    vNew[i, j] = acc;
                }
            }

            for (int i = 0; i < n; i++)
            {
                var qi = hv.QAt(start + i);
                double eg = Math.Exp(gamma[i]);
                int oi = hv.OIndex(start + i);
                var qk = new double[i + 1];
                for (int m = 0; m <= i; m++)
                {
                    qk[m] = Dot(qi, hv.KAt(start + m)) * Math.Exp(gamma[i] - gamma[m]);
                }

                for (int j = 0; j < dv; j++)
                {
                    double acc = 0;
                    for (int m = 0; m < dk; m++)
                    {
                        acc += qi[m] * s[m, j];
                    }

                    acc *= eg;
                    for (int m = 0; m <= i; m++)
                    {
                        acc += qk[m] * vNew[m, j];
                    }

                    o[oi + j] = (float)acc;
                }
            }

            double last = gamma[n - 1];
            double decayAll = Math.Exp(last);
            for (int m = 0; m < dk; m++)
            {
                for (int j = 0; j < dv; j++)
                {
                    s[m, j] *= decayAll;
                }
            }

            for (int i = 0; i < n; i++)
            {
                var ki = hv.KAt(start + i);
                double d = Math.Exp(last - gamma[i]);
                for (int m = 0; m < dk; m++)
                {
                    double km = ki[m] * d;
                    for (int j = 0; j < dv; j++)
                    {
                        s[m, j] += km * vNew[i, j];
                    }
                }
            }
        }

        for (int i = 0; i < dk; i++)
        {
            for (int j = 0; j < dv; j++)
            {
                st[(i * dv) + j] = (float)s[i, j];
            }
        }
    }

    private static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double acc = 0;
        for (int i = 0; i < a.Length; i++)
        {
            acc += (double)a[i] * b[i];
        }

        return acc;
    }
}
