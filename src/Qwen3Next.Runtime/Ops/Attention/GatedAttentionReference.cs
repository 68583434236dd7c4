using Qwen3Next.Backends;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Ops.Attention;

/// <summary>
/// Reference of the gated attention mixer core. qg <c>[T, Hq, 2D]</c> per head [query | gate];
/// k, v <c>[T, Hkv·D]</c>; cache keys/values <c>[Hkv, capacity, D]</c>; y <c>[T, Hq·D]</c>.
/// Tokens sit at positions cache.Length + t; the cache keeps keys after k_norm and RoPE.
/// </summary>
public static class GatedAttentionReference
{
    public static void Mixer(GatedAttentionShape s, int tokens, ReadOnlySpan<float> qg, ReadOnlySpan<float> k, ReadOnlySpan<float> v,
        ReadOnlySpan<float> qNorm, ReadOnlySpan<float> kNorm, Span<float> keyCache, Span<float> valueCache, int capacity, int cached,
        Span<float> y)
    {
        int d = s.HeadDim;
        var q = new float[tokens * s.QueryHeads * d];
        var inverseFrequency = InverseFrequencies(s);
        for (int t = 0; t < tokens; t++)
        {
            int pos = cached + t;
            for (int h = 0; h < s.QueryHeads; h++)
            {
                var qh = q.AsSpan(((t * s.QueryHeads) + h) * d, d);
                RmsNormReference.Run(qg.Slice(((t * s.QueryHeads) + h) * 2 * d, d), qNorm, qh, 1, d, s.Eps, zeroCentred: true);
                Rope(qh, s.RotaryDim, pos, inverseFrequency);
            }

            for (int j = 0; j < s.KeyValueHeads; j++)
            {
                var kc = keyCache.Slice(((j * capacity) + pos) * d, d);
                RmsNormReference.Run(k.Slice((t * s.KeyValueWidth) + (j * d), d), kNorm, kc, 1, d, s.Eps, zeroCentred: true);
                Rope(kc, s.RotaryDim, pos, inverseFrequency);
                v.Slice((t * s.KeyValueWidth) + (j * d), d).CopyTo(valueCache.Slice(((j * capacity) + pos) * d, d));
            }
        }

        var scores = new double[cached + tokens];
        for (int t = 0; t < tokens; t++)
        {
            int visible = cached + t + 1;
            for (int h = 0; h < s.QueryHeads; h++)
            {
                int j = h / s.Group;
                var qh = q.AsSpan(((t * s.QueryHeads) + h) * d, d);
                double max = double.NegativeInfinity;
                for (int p = 0; p < visible; p++)
                {
                    double dot = 0;
                    var kp = keyCache.Slice(((j * capacity) + p) * d, d);
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
                        acc += scores[p] * valueCache[(((j * capacity) + p) * d) + i];
                    }

                    yh[i] = (float)(acc / total) * Activations.Sigmoid(gate[i]);
                }
            }
        }
    }

    /// <summary>inv_freq[i] = θ^(−2i/rotary_dim), computed in float32 like the reference library.</summary>
    public static float[] InverseFrequencies(GatedAttentionShape s)
    {
        var f = new float[s.RotaryDim / 2];
        for (int i = 0; i < f.Length; i++)
        {
            f[i] = 1f / MathF.Pow(s.RopeTheta, 2f * i / s.RotaryDim);
        }

        return f;
    }

    /// <summary>Rotate-half RoPE on the first rotary_dim values: dim i pairs with i + rotary_dim/2.</summary>
    public static void Rope(Span<float> x, int rotaryDim, int position, ReadOnlySpan<float> inverseFrequency)
    {
        int half = rotaryDim / 2;
        for (int i = 0; i < half; i++)
        {
            float angle = position * inverseFrequency[i];
            float cos = MathF.Cos(angle), sin = MathF.Sin(angle);
            float a = x[i], b = x[i + half];
            x[i] = (a * cos) - (b * sin);
            x[i + half] = (b * cos) + (a * sin);
        }
    }
}
