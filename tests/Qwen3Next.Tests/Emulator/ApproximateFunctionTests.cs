using NUnit.Framework;
using static Qwen3Next.Tests.Emulator.FloatComparison;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// The approximate f32 functions (PTX ISA §9.7.3.15–9.7.3.23) within their documented error against double-precision
/// references, and their special values: ±0, ±∞, NaN, negative and subnormal inputs with and without <c>.ftz</c>,
/// and the huge divisors for which div.approx returns 0 (or NaN for an infinite dividend).
/// </summary>
[TestFixture]
public sealed class ApproximateFunctionTests
{
    private static float[] Run(string instruction, IReadOnlyList<float> inputs)
        => new ElementwiseKernel($"{instruction} %o0, %i0;", "f32", "f32").Run(ElementwiseKernel.Bits(inputs))[0]
            .Select(b => BitConverter.UInt32BitsToSingle((uint)b)).ToArray();

    private static double Ulp(double x)
    {
        float f = (float)Math.Abs(x);
        return float.IsFinite(f) ? Math.Max(MathF.BitIncrement(f) - f, float.Epsilon) : double.PositiveInfinity;
    }

    /// <summary>Asserts |actual − exact| ≤ bound(exact) for every input whose exact value is finite and in range.</summary>
    private static void AssertWithin(string what, IReadOnlyList<float> inputs, float[] actual, Func<double, double> exact, Func<double, double> bound)
    {
        var failures = new List<string>();
        for (int i = 0; i < inputs.Count; i++)
        {
            double e = exact(inputs[i]);
            double error = Math.Abs(actual[i] - e);
            if (!(error <= bound(e)))
            {
                failures.Add($"{what}({Hex(inputs[i])}) = {Hex(actual[i])}, exact {e:R}, error {error:E3} > {bound(e):E3}");
            }
        }

        Assert.That(failures, Is.Empty, string.Join(Environment.NewLine, failures.Take(12)));
    }

    private static void AssertSpecials(string instruction, (float Input, float Expected)[] cases)
    {
        var actual = Run(instruction, cases.Select(c => c.Input).ToList());
        for (int i = 0; i < cases.Length; i++)
        {
            bool same = float.IsNaN(cases[i].Expected) ? float.IsNaN(actual[i])
                : BitConverter.SingleToUInt32Bits(cases[i].Expected) == BitConverter.SingleToUInt32Bits(actual[i]);
            Assert.That(same, Is.True, $"{instruction}({Hex(cases[i].Input)}) = {Hex(actual[i])}, expected {Hex(cases[i].Expected)}");
        }
    }

    private static List<float> Uniform(int seed, int count, float lo, float hi)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => lo + ((hi - lo) * (float)rng.NextDouble())).ToList();
    }

    private static List<float> Positive(int seed, int count, int minExp, int maxExp)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => MathF.Abs(FloatTestValues.Random(rng, minExp, maxExp))).ToList();
    }

    private const float Subnormal = 1e-40f;

    [Test]
    public void Ex2WithinTwoUlpAndSpecialValues()
    {
        var inputs = Uniform(61, 2000, -126, 127);
        AssertWithin("ex2.approx.f32", inputs, Run("ex2.approx.f32", inputs), x => Math.Pow(2, x), e => 2 * Ulp(e));
        AssertWithin("ex2.approx.ftz.f32", inputs, Run("ex2.approx.ftz.f32", inputs), x => Math.Pow(2, x), e => 2 * Ulp(e));
        AssertSpecials("ex2.approx.f32", [(float.NegativeInfinity, 0f), (-0f, 1f), (0f, 1f), (-Subnormal, 1f), (Subnormal, 1f), (float.PositiveInfinity, float.PositiveInfinity),
            (float.NaN, float.NaN), (128f, float.PositiveInfinity), (-130f, MathF.ScaleB(1, -130))]);
        AssertSpecials("ex2.approx.ftz.f32", [(-130f, 0f), (-Subnormal, 1f)]);
    }

    [Test]
    public void Lg2WithinItsAbsoluteErrorAndSpecialValues()
    {
        var inputs = Positive(67, 2000, -126, 127);
        inputs.AddRange(Uniform(68, 500, 0.5f, 2f));
        // Documented: absolute error 2^-22.6 for the mantissa; the result's own rounding adds half an ulp.
        AssertWithin("lg2.approx.f32", inputs, Run("lg2.approx.f32", inputs), x => Math.Log2(x), e => Math.ScaleB(1, -22) + Ulp(e));
        AssertSpecials("lg2.approx.f32", [(float.NegativeInfinity, float.NaN), (-1f, float.NaN), (-Subnormal, float.NaN), (-0f, float.NegativeInfinity),
            (0f, float.NegativeInfinity), (float.PositiveInfinity, float.PositiveInfinity), (float.NaN, float.NaN), (1f, 0f), (float.Epsilon, -149f)]);
        AssertSpecials("lg2.approx.ftz.f32", [(Subnormal, float.NegativeInfinity), (-Subnormal, float.NegativeInfinity)]);
    }

    [Test]
    public void RcpApproxWithinOneUlpAndSpecialValues()
    {
        var inputs = Positive(71, 2000, -125, 125).Select((x, i) => i % 2 == 0 ? x : -x).ToList();
        AssertWithin("rcp.approx.f32", inputs, Run("rcp.approx.f32", inputs), x => 1 / x, e => Ulp(e));
        AssertWithin("rcp.approx.ftz.f32", inputs, Run("rcp.approx.ftz.f32", inputs), x => 1 / x, e => Ulp(e));
        AssertSpecials("rcp.approx.f32", [(float.NegativeInfinity, -0f), (-0f, float.NegativeInfinity), (0f, float.PositiveInfinity),
            (float.PositiveInfinity, 0f), (float.NaN, float.NaN), (BitConverter.UInt32BitsToSingle(0x0040_0000), MathF.ScaleB(1, 127))]);
        AssertSpecials("rcp.approx.ftz.f32", [(Subnormal, float.PositiveInfinity), (-Subnormal, float.NegativeInfinity)]);
    }

    [Test]
    public void RsqrtAndSqrtApproxWithinTheirRelativeErrorAndSpecialValues()
    {
        var inputs = Positive(73, 2000, -126, 127);
        AssertWithin("rsqrt.approx.f32", inputs, Run("rsqrt.approx.f32", inputs), x => 1 / Math.Sqrt(x), e => Math.Abs(e) * Math.Pow(2, -22.9));
        AssertWithin("sqrt.approx.f32", inputs, Run("sqrt.approx.f32", inputs), x => Math.Sqrt(x), e => Math.ScaleB(Math.Abs(e), -23));
        AssertSpecials("rsqrt.approx.f32", [(float.NegativeInfinity, float.NaN), (-1f, float.NaN), (-0f, float.NegativeInfinity), (0f, float.PositiveInfinity),
            (float.PositiveInfinity, 0f), (float.NaN, float.NaN), (4f, 0.5f)]);
        AssertSpecials("rsqrt.approx.ftz.f32", [(Subnormal, float.PositiveInfinity), (-Subnormal, float.NegativeInfinity)]);
        AssertSpecials("sqrt.approx.f32", [(float.NegativeInfinity, float.NaN), (-1f, float.NaN), (-0f, -0f), (0f, 0f), (float.PositiveInfinity, float.PositiveInfinity),
            (float.NaN, float.NaN), (Subnormal, MathF.Sqrt(Subnormal))]);
        AssertSpecials("sqrt.approx.ftz.f32", [(Subnormal, 0f), (-Subnormal, -0f)]);
    }

    [Test]
    public void SinAndCosWithinTheirAbsoluteErrorOnMinusPiToPi()
    {
        var inputs = Uniform(79, 2000, -MathF.PI, MathF.PI);
        double bound = Math.Pow(2, -20.9);
        AssertWithin("sin.approx.f32", inputs, Run("sin.approx.f32", inputs), Math.Sin, _ => bound);
        AssertWithin("cos.approx.ftz.f32", inputs, Run("cos.approx.ftz.f32", inputs), Math.Cos, _ => bound);
        AssertSpecials("sin.approx.f32", [(float.NegativeInfinity, float.NaN), (-0f, -0f), (0f, 0f), (float.PositiveInfinity, float.NaN), (float.NaN, float.NaN)]);
        AssertSpecials("cos.approx.f32", [(float.NegativeInfinity, float.NaN), (-0f, 1f), (0f, 1f), (float.PositiveInfinity, float.NaN), (float.NaN, float.NaN)]);
    }

    [Test]
    public void TanhWithinItsRelativeErrorAndSpecialValues()
    {
        var inputs = Uniform(83, 2000, -12, 12);
        AssertWithin("tanh.approx.f32", inputs, Run("tanh.approx.f32", inputs), Math.Tanh, e => Math.Abs(e) * Math.Pow(2, -10.987));
        AssertSpecials("tanh.approx.f32", [(float.NegativeInfinity, -1f), (-0f, -0f), (0f, 0f), (float.PositiveInfinity, 1f), (float.NaN, float.NaN)]);
    }

    [Test]
    public void DivApproxWithinTwoUlpAndZeroForHugeDivisors()
    {
        var rng = new Random(89);
        var a = new List<float>();
        var b = new List<float>();
        for (int i = 0; i < 2000; i++)
        {
            a.Add(FloatTestValues.Random(rng, -60, 60));
            b.Add(FloatTestValues.Random(rng, -60, 60));
        }

        foreach (string op in new[] { "div.approx.f32", "div.approx.ftz.f32", "div.full.f32", "div.full.ftz.f32" })
        {
            var result = new ElementwiseKernel($"{op} %o0, %i0, %i1;", ["f32", "f32"], ["f32"]).Run(ElementwiseKernel.Bits(a), ElementwiseKernel.Bits(b))[0]
                .Select(x => BitConverter.UInt32BitsToSingle((uint)x)).ToArray();
            var failures = a.Select((x, i) => (x, y: b[i], d: result[i], e: (double)x / b[i]))
                .Where(t => !(Math.Abs(t.d - t.e) <= 2 * Ulp(t.e)))
                .Select(t => $"{op}({t.x:R}, {t.y:R}) = {t.d:R}, exact {t.e:R}").ToList();
            Assert.That(failures, Is.Empty, string.Join(Environment.NewLine, failures.Take(12)));
        }

        // For 2^126 < |b| < 2^128, div.approx gives 0 for a finite dividend and NaN for an infinite one.
        float huge = MathF.ScaleB(1.5f, 126);
        (float A, float B)[] special = [(1f, huge), (-1f, huge), (float.MaxValue, huge), (float.PositiveInfinity, huge), (1f, MathF.ScaleB(1, 125))];
        var specialResult = new ElementwiseKernel("div.approx.f32 %o0, %i0, %i1;", ["f32", "f32"], ["f32"])
            .Run(ElementwiseKernel.Bits(special.Select(s => s.A)), ElementwiseKernel.Bits(special.Select(s => s.B)))[0]
            .Select(x => BitConverter.UInt32BitsToSingle((uint)x)).ToArray();
        Assert.That(specialResult[0], Is.Zero);
        Assert.That(specialResult[1], Is.Zero);
        Assert.That(specialResult[2], Is.Zero);
        Assert.That(float.IsNaN(specialResult[3]), Is.True, "∞ / huge is NaN for div.approx");
        Assert.That(specialResult[4], Is.EqualTo(MathF.ScaleB(1, -125)).Within(2 * Ulp(Math.ScaleB(1, -125))));
    }
}
