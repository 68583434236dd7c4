using System.Buffers.Binary;
using System.Text.Json;
using NUnit.Framework;
using Qwen3Next.Conformance;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Conformance;

/// <summary>
/// Golden-format <c>gated_attention_layer</c> cases whose positions start far from 0 (5000, as an engine continuing a
/// long conversation, and 131071), run through <see cref="ConformanceRunner"/> on every backend at the golden attention
/// tolerance. The expected outputs come from <see cref="HfAttention"/>, an independent float64 transcription of Hugging
/// Face's layer (its float32 <c>inv_freq</c> and float32 angle — the goldens' RoPE — then everything in float64); as in
/// HF, the cache starts empty, so token i sits at cache index i whatever its position. A backend that rotated by another
/// angle (a float64 angle differs from HF's by up to 2.4e-4 rad at 5000) or used the cache index as the position fails.
/// </summary>
[TestFixture]
public sealed class ShiftedPositionGoldenTests
{
    private TempFolder folder = null!;

    [OneTimeSetUp]
    public void WriteCases()
    {
        folder = new TempFolder();
        foreach (int first in FirstPositions)
        {
            HfAttention.WriteCase(folder.File($"attn_from_{first}.safetensors"), first, seed: first % 977);
        }
    }

    [OneTimeTearDown]
    public void DeleteCases() => folder.Dispose();

    private static readonly int[] FirstPositions = [5000, 131071];

    public static IEnumerable<TestCaseData> Cases()
        => from backend in TestBackends.AllBackends from first in FirstPositions select new TestCaseData(backend, first).SetName($"{backend}_from{first}");

    [TestCaseSource(nameof(Cases))]
    public void PassesWithinGoldenTolerance(string backend, int firstPosition)
    {
        var results = ConformanceRunner.Run(folder.File($"attn_from_{firstPosition}.safetensors"), TestBackends.Get(backend));
        var failed = results.Where(r => !r.Passed).Select(r => $"{r.Output}: max abs {r.MaxAbsError:E2} (tol {r.Tolerance})").ToList();
        Assert.That(results, Has.Count.EqualTo(4));
        Assert.That(failed, Is.Empty, string.Join(Environment.NewLine, failed));
    }

    /// <summary>Hugging Face's gated attention layer, written out in float64 from the golden README's description.</summary>
    private static class HfAttention
    {
        private const int Hidden = 64, Hq = 4, Hkv = 2, D = 64, Rotary = 16, Prefill = 20, Decode = 4;
        private const float Theta = 1e7f, Eps = 1e-6f;

        public static void WriteCase(string path, int firstPosition, int seed)
        {
            var random = new Random(seed);
            var wq = Weight(random, 2 * Hq * D, Hidden);
            var wk = Weight(random, Hkv * D, Hidden);
            var wv = Weight(random, Hkv * D, Hidden);
            var wo = Weight(random, Hidden, Hq * D);
            var qNorm = Uniform(random, D, 0.2f).Select(Bf16.FromFloat).ToArray();
            var kNorm = Uniform(random, D, 0.2f).Select(Bf16.FromFloat).ToArray();
            int total = Prefill + Decode;
            var x = Uniform(random, total * Hidden, 1f);
            var positions = Enumerable.Range(firstPosition, total).Select(p => (long)p).ToArray();

            var keys = new double[Hkv, total, D];
            var values = new double[Hkv, total, D];
            var y = new float[total * Hidden];
            for (int t = 0; t < total; t++)
            {
                var xt = x.AsSpan(t * Hidden, Hidden).ToArray();
                var qg = Project(xt, wq, 2 * Hq * D);
                var k = Project(xt, wk, Hkv * D);
                var v = Project(xt, wv, Hkv * D);
                for (int j = 0; j < Hkv; j++)
                {
                    var kj = Rope(Norm(k.AsSpan(j * D, D), kNorm), positions[t]);
                    for (int i = 0; i < D; i++)
                    {
                        keys[j, t, i] = kj[i];
                        values[j, t, i] = v[(j * D) + i];
                    }
                }

                var attended = new double[Hq * D];
                for (int h = 0; h < Hq; h++)
                {
                    var q = Rope(Norm(qg.AsSpan(h * 2 * D, D), qNorm), positions[t]);
                    Attend(q, h / (Hq / Hkv), t + 1, keys, values, attended.AsSpan(h * D, D));
                    for (int i = 0; i < D; i++)
                    {
                        attended[(h * D) + i] *= 1 / (1 + Math.Exp(-qg[(h * 2 * D) + D + i]));
                    }
                }

                var yt = Project(attended, wo, Hidden);
                for (int i = 0; i < Hidden; i++)
                {
                    y[(t * Hidden) + i] = (float)yt[i];
                }
            }

            var dims = new Dictionary<string, object>
            {
                ["hidden_size"] = Hidden,
                ["num_attention_heads"] = Hq,
                ["num_key_value_heads"] = Hkv,
                ["head_dim"] = D,
                ["rope_theta"] = (double)Theta,
                ["partial_rotary_factor"] = 0.25,
                ["rotary_dim"] = Rotary,
                ["rms_norm_eps"] = (double)Eps,
                ["T_prefill"] = Prefill,
                ["N_decode"] = Decode,
                ["first_position"] = firstPosition,
                ["scaling"] = 1 / Math.Sqrt(D),
            };
            var metadata = new Dictionary<string, string>
            {
                ["op"] = "gated_attention_layer",
                ["case"] = Path.GetFileNameWithoutExtension(path),
                ["dims"] = JsonSerializer.Serialize(dims),
                ["generator"] = "ShiftedPositionGoldenTests.HfAttention (float64, HF float32 RoPE angles)",
            };
            SafeTensorsWriter.Write(path,
            [
                Bf16Tensor("q_proj.weight", [2 * Hq * D, Hidden], wq), Bf16Tensor("k_proj.weight", [Hkv * D, Hidden], wk),
                Bf16Tensor("v_proj.weight", [Hkv * D, Hidden], wv), Bf16Tensor("o_proj.weight", [Hidden, Hq * D], wo),
                Bf16Tensor("q_norm.weight", [D], qNorm), Bf16Tensor("k_norm.weight", [D], kNorm),
                WrittenTensor.F32("hidden_states", [Prefill, Hidden], x[..(Prefill * Hidden)]),
                I64("position_ids", positions[..Prefill]),
                WrittenTensor.F32("decode_hidden_states", [Decode, Hidden], x[(Prefill * Hidden)..]),
                I64("decode_position_ids", positions[Prefill..]),
                WrittenTensor.F32("output", [Prefill, Hidden], y[..(Prefill * Hidden)]),
                WrittenTensor.F32("decode_output", [Decode, Hidden], y[(Prefill * Hidden)..]),
                WrittenTensor.F32("key_cache", [Hkv, total, D], Flatten(keys)),
                WrittenTensor.F32("value_cache", [Hkv, total, D], Flatten(values)),
            ], metadata);
        }

        /// <summary>Zero-centred RMSNorm x·rsqrt(mean x² + eps)·(1 + w).</summary>
        private static double[] Norm(ReadOnlySpan<double> x, ushort[] w)
        {
            double mean = 0;
            foreach (double v in x)
            {
                mean += v * v / x.Length;
            }

            double inv = 1 / Math.Sqrt(mean + Eps);
            var y = new double[x.Length];
            for (int i = 0; i < x.Length; i++)
            {
                y[i] = x[i] * inv * (1 + Bf16.ToFloat(w[i]));
            }

            return y;
        }

        /// <summary>HF's rotary embedding: inv_freq = 1 / θ^(arange(0, R, 2) / R) in float32, angle = float32(position · inv_freq),
        /// cos/sin of that angle; rotate-half on the first R dims.</summary>
        private static double[] Rope(double[] x, long position)
        {
            var y = (double[])x.Clone();
            for (int i = 0; i < Rotary / 2; i++)
            {
                float invFreq = 1f / MathF.Pow(Theta, (float)(2 * i) / Rotary);
                float angle = (float)position * invFreq;
                double c = Math.Cos(angle), s = Math.Sin(angle);
                y[i] = (x[i] * c) - (x[i + (Rotary / 2)] * s);
                y[i + (Rotary / 2)] = (x[i + (Rotary / 2)] * c) + (x[i] * s);
            }

            return y;
        }

        private static void Attend(double[] q, int j, int visible, double[,,] keys, double[,,] values, Span<double> output)
        {
            var scores = new double[visible];
            for (int p = 0; p < visible; p++)
            {
                for (int i = 0; i < D; i++)
                {
                    scores[p] += q[i] * keys[j, p, i];
                }

                scores[p] /= Math.Sqrt(D);
            }

            double max = scores.Max(), total = scores.Sum(s => Math.Exp(s - max));
            for (int p = 0; p < visible; p++)
            {
                double weight = Math.Exp(scores[p] - max) / total;
                for (int i = 0; i < D; i++)
                {
                    output[i] += weight * values[j, p, i];
                }
            }
        }

        private static double[] Project(ReadOnlySpan<double> x, ushort[] w, int rows)
        {
            var y = new double[rows];
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < x.Length; c++)
                {
                    y[r] += x[c] * Bf16.ToFloat(w[(r * x.Length) + c]);
                }
            }

            return y;
        }

        private static double[] Project(float[] x, ushort[] w, int rows) => Project(x.Select(v => (double)v).ToArray(), w, rows);

        private static ushort[] Weight(Random random, int rows, int cols)
            => Uniform(random, rows * cols, 1 / MathF.Sqrt(cols)).Select(Bf16.FromFloat).ToArray();

        private static float[] Uniform(Random random, int length, float bound)
            => Enumerable.Range(0, length).Select(_ => ((random.NextSingle() * 2) - 1) * bound).ToArray();

        private static float[] Flatten(double[,,] a) => a.Cast<double>().Select(v => (float)v).ToArray();

        private static WrittenTensor Bf16Tensor(string name, long[] shape, ushort[] bits)
        {
            var data = new byte[bits.Length * 2];
            for (int i = 0; i < bits.Length; i++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(i * 2), bits[i]);
            }

            return new WrittenTensor(name, "BF16", shape, data);
        }

        private static WrittenTensor I64(string name, long[] values)
        {
            var data = new byte[values.Length * 8];
            for (int i = 0; i < values.Length; i++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(i * 8), values[i]);
            }

            return new WrittenTensor(name, "I64", [values.Length], data);
        }
    }
}
