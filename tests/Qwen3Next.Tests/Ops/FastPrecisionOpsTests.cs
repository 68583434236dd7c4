using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Checkpoint;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.Moe;
using Qwen3Next.Tests.Ops.Moe;

namespace Qwen3Next.Tests.Ops;

/// <summary>
/// The fast precision's tensor-core kernels (wgmma GEMM, persistent grouped expert GEMMs) on the emulated ptx backend,
/// sanitizer on, at awkward sizes (partial 128-row and 256-column tiles, K not a multiple of 64, experts with several
/// tiles or none). Two expectations each: the same arithmetic done on the host in double — activations rounded to bf16
/// where the fast path rounds them, so a layout or pipeline slip shows as an error far above fp32 accumulation noise —
/// and fla's criterion (relative RMS ≤ 5e-3) against the exact fp32 reference.
/// </summary>
[TestFixture]
public sealed class FastPrecisionOpsTests
{
    private PtxBackend backend = null!;

    [OneTimeSetUp]
    public void Create()
    {
        backend = (PtxBackend)TestBackends.Get(TestBackends.PtxEmuFast);
        if (!backend.HasSm90aKernels)
        {
            Assert.Ignore("No sm_90a kernels embedded (CUDA 12.4 was not found at build time): fast precision runs the exact kernels.");
        }
    }

    private static float Round(float x) => Bf16.ToFloat(Bf16.FromFloat(x));

    private static double RelativeRms(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected)
    {
        double err = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            err += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            norm += expected[i] * expected[i];
        }

        return Math.Sqrt(err / norm);
    }

    [TestCase(9, 8, 1)]
    [TestCase(63, 72, 255)]
    [TestCase(129, 136, 257)]
    [TestCase(300, 200, 513)]
    public void MatMulIsTheBf16ProductAccumulatedInFp32(int rows, int inFeatures, int outFeatures)
    {
        var random = new Random((rows * 7) + inFeatures);
        var x = Enumerable.Range(0, rows * inFeatures).Select(_ => (random.NextSingle() * 2) - 1).ToArray();
        var w = MoeCase.Matrix(random, outFeatures, inFeatures);
        using var weight = backend.LoadWeight(TensorView.FromBf16("w", [outFeatures, inFeatures], w));
        using var input = backend.Upload(x);
        using var output = backend.Allocate((long)rows * outFeatures);
        backend.Basic.MatMul(input, weight, output, rows);
        var y = new float[rows * outFeatures];
        backend.Download(output, y);

        var exact = new double[y.Length];
        for (int t = 0; t < rows; t++)
        {
            for (int o = 0; o < outFeatures; o++)
            {
                double sum = 0, bf16Sum = 0, magnitude = 0;
                for (int k = 0; k < inFeatures; k++)
                {
                    double wk = Bf16.ToFloat(w[(o * inFeatures) + k]);
                    sum += x[(t * inFeatures) + k] * wk;
                    double term = Round(x[(t * inFeatures) + k]) * wk;
                    bf16Sum += term;
                    magnitude += Math.Abs(term);
                }

                exact[(t * outFeatures) + o] = sum;
                // fp32 accumulation over ceil(in/16) wgmma k-slices: a few units of 2^-24 of the magnitude.
                Assert.That(y[(t * outFeatures) + o], Is.EqualTo(bf16Sum).Within((((inFeatures / 16) + 2) * magnitude * Math.ScaleB(1, -23)) + 1e-30),
                    $"y[{t},{o}]");
            }
        }

        Assert.That(RelativeRms(y, exact), Is.LessThanOrEqualTo(5e-3));
    }

    /// <summary>4 experts × top-2: 300 tokens give each expert ~150 rows (two 128-row tiles); 9 tokens leave experts
    /// with partial tiles; I = 40 and H = 96 leave partial column blocks and K tails.</summary>
    [TestCase(9)]
    [TestCase(65)]
    [TestCase(300)]
    public void MoeBlockIsTheBf16ExpertsWithExactRouting(int tokens)
    {
        var shape = new MoeShape(96, 4, 2, 40, 72, true);
        var c = new MoeCase(shape, tokens, seed: 500 + tokens);
        var (expected, expectedRouting) = c.RunReference();
        int h = shape.Hidden;
        using var router = backend.LoadWeight(TensorView.FromBf16("router", [shape.Experts, h], c.Router));
        var experts = backend.LoadExperts(shape, Enumerable.Range(0, shape.Experts).Select(e => new ExpertTensors(
            TensorView.FromBf16($"gate{e}", [shape.ExpertIntermediate, h], c.Gate[e]), TensorView.FromBf16($"up{e}", [shape.ExpertIntermediate, h], c.Up[e]),
            TensorView.FromBf16($"down{e}", [h, shape.ExpertIntermediate], c.Down[e]))).ToList());
        using var weights = new MoeWeights(router, experts,
            backend.LoadWeight(TensorView.FromBf16("sg", [shape.SharedIntermediate, h], c.SharedGate)),
            backend.LoadWeight(TensorView.FromBf16("su", [shape.SharedIntermediate, h], c.SharedUp)),
            backend.LoadWeight(TensorView.FromBf16("sd", [h, shape.SharedIntermediate], c.SharedDown)),
            backend.LoadWeight(TensorView.FromBf16("seg", [1, h], c.SharedExpertGate)));
        using var x = backend.Upload(c.X);
        using var y = backend.Allocate((long)tokens * h);
        var routing = new MoeRouting(tokens, shape);
        backend.Moe.Block(shape, tokens, x, weights, y, routing);
        var got = new float[tokens * h];
        backend.Download(y, got);

        Assert.That(routing.Selected, Is.EqualTo(expectedRouting.Selected), "the router keeps fp32 accuracy (hi + lo passes)");
        Assert.That(RelativeRms(got, expected.Select(v => (double)v).ToArray()), Is.LessThanOrEqualTo(5e-3), "fla's criterion against the exact reference");
        Assert.That(RelativeRms(got, Bf16Block(c, expectedRouting)), Is.LessThanOrEqualTo(2e-4), "the same roundings on the host");
    }

    /// <summary>The block as the fast path computes it: x rounded to bf16 for the experts and the shared expert, h = silu(g)·u
    /// rounded to bf16 before down, routing weights and the shared-expert gate from fp32 x; sums in double.</summary>
    private static double[] Bf16Block(MoeCase c, MoeRouting routing)
    {
        var s = c.Shape;
        int h = s.Hidden, k = s.TopK;
        var y = new double[c.Tokens * h];
        double[] Expert(float[] xb, ushort[] gate, ushort[] up, ushort[] down, int inter)
        {
            var hidden = new float[inter];
            for (int i = 0; i < inter; i++)
            {
                double g = 0, u = 0;
                for (int j = 0; j < h; j++)
                {
                    g += xb[j] * (double)Bf16.ToFloat(gate[(i * h) + j]);
                    u += xb[j] * (double)Bf16.ToFloat(up[(i * h) + j]);
                }

                hidden[i] = Round(Activations.Silu((float)g) * (float)u);
            }

            var result = new double[h];
            for (int o = 0; o < h; o++)
            {
                for (int i = 0; i < inter; i++)
                {
                    result[o] += hidden[i] * (double)Bf16.ToFloat(down[(o * inter) + i]);
                }
            }

            return result;
        }

        for (int t = 0; t < c.Tokens; t++)
        {
            var xt = c.X.AsSpan(t * h, h);
            var xb = xt.ToArray().Select(Round).ToArray();
            for (int j = 0; j < k; j++)
            {
                int e = routing.Selected[(t * k) + j];
                var o = Expert(xb, c.Gate[e], c.Up[e], c.Down[e], s.ExpertIntermediate);
                for (int col = 0; col < h; col++)
                {
                    y[(t * h) + col] += routing.Weights[(t * k) + j] * o[col];
                }
            }

            var shared = Expert(xb, c.SharedGate, c.SharedUp, c.SharedDown, s.SharedIntermediate);
            double gateValue = Activations.Sigmoid(Bf16.Dot(xt, c.SharedExpertGate));
            for (int col = 0; col < h; col++)
            {
                y[(t * h) + col] += gateValue * shared[col];
            }
        }

        return y;
    }
}
