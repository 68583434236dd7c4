using NUnit.Framework;
using Qwen3Next.PtxEmulator;
using static Qwen3Next.Tests.Emulator.FloatComparison;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// add/sub/mul/fma/div/rcp/sqrt on f32 in every rounding mode, with and without <c>.ftz</c>, against exact rational
/// arithmetic rounded once (PTX ISA §9.7.3): ±0 results, overflow to ±∞ or ±max by direction, subnormals, ties.
/// f64 arithmetic is checked in round-to-nearest, the only f64 rounding the emulator implements.
/// </summary>
[TestFixture]
public sealed class FloatArithmeticTests
{
    private const int RandomCases = 1500;

    private static readonly List<(float A, float B)> Pairs = FloatTestValues.Pairs(seed: 17, RandomCases);
    private static readonly List<(float A, float B, float C)> Triples = FloatTestValues.Triples(seed: 29, RandomCases);

    private static ulong[] RunBinary(string instruction, IReadOnlyList<(float A, float B)> pairs)
        => new ElementwiseKernel($"{instruction} %o0, %i0, %i1;", ["f32", "f32"], ["f32"])
            .Run(ElementwiseKernel.Bits(pairs.Select(p => p.A)), ElementwiseKernel.Bits(pairs.Select(p => p.B)))[0];

    private static List<string> Text(IEnumerable<(float A, float B)> pairs) => pairs.Select(p => $"{Hex(p.A)}, {Hex(p.B)}").ToList();

    [Test]
    public void ReferenceAgreesWithHardwareRoundToNearest()
    {
        // The oracle's round-to-nearest results must equal the host's IEEE arithmetic; this guards the oracle itself.
        foreach (var (a, b) in Pairs)
        {
            Assert.That(IeeeReference.Add(a, b, RoundingMode.Nearest), Is.EqualTo(Canonical(a + b)), $"{a:R} + {b:R}");
            Assert.That(IeeeReference.Mul(a, b, RoundingMode.Nearest), Is.EqualTo(Canonical(a * b)), $"{a:R} * {b:R}");
            Assert.That(IeeeReference.Div(a, b, RoundingMode.Nearest), Is.EqualTo(Canonical(a / b)), $"{a:R} / {b:R}");
            Assert.That(IeeeReference.Sqrt(a, RoundingMode.Nearest), Is.EqualTo(Canonical(MathF.Sqrt(a))), $"sqrt {a:R}");
        }

        foreach (var (a, b, c) in Triples)
        {
            Assert.That(IeeeReference.Fma(a, b, c, RoundingMode.Nearest), Is.EqualTo(Canonical(MathF.FusedMultiplyAdd(a, b, c))), $"fma {a:R} {b:R} {c:R}");
        }

        static uint Canonical(float x) => float.IsNaN(x) ? IeeeReference.NaN32 : BitConverter.SingleToUInt32Bits(x);
    }

    [Test]
    public void AddRoundsOnceInEveryMode([Values] RoundingMode mode, [Values] bool ftz)
    {
        string op = $"add.{Modifier(mode)}{(ftz ? ".ftz" : "")}.f32";
        AssertBits32(op, Text(Pairs), Pairs.Select(p => IeeeReference.Add(p.A, p.B, mode, ftz)).ToList(), RunBinary(op, Pairs));
    }

    [Test]
    public void SubRoundsOnceInEveryMode([Values] RoundingMode mode, [Values] bool ftz)
    {
        string op = $"sub.{Modifier(mode)}{(ftz ? ".ftz" : "")}.f32";
        AssertBits32(op, Text(Pairs), Pairs.Select(p => IeeeReference.Sub(p.A, p.B, mode, ftz)).ToList(), RunBinary(op, Pairs));
    }

    [Test]
    public void MulRoundsOnceInEveryMode([Values] RoundingMode mode, [Values] bool ftz)
    {
        string op = $"mul.{Modifier(mode)}{(ftz ? ".ftz" : "")}.f32";
        AssertBits32(op, Text(Pairs), Pairs.Select(p => IeeeReference.Mul(p.A, p.B, mode, ftz)).ToList(), RunBinary(op, Pairs));
    }

    [Test]
    public void FmaRoundsOnceInEveryMode([Values] RoundingMode mode, [Values] bool ftz)
    {
        string op = $"fma.{Modifier(mode)}{(ftz ? ".ftz" : "")}.f32";
        var result = new ElementwiseKernel($"{op} %o0, %i0, %i1, %i2;", ["f32", "f32", "f32"], ["f32"])
            .Run(ElementwiseKernel.Bits(Triples.Select(t => t.A)), ElementwiseKernel.Bits(Triples.Select(t => t.B)), ElementwiseKernel.Bits(Triples.Select(t => t.C)))[0];
        AssertBits32(op, Triples.Select(t => $"{Hex(t.A)}, {Hex(t.B)}, {Hex(t.C)}").ToList(),
            Triples.Select(t => IeeeReference.Fma(t.A, t.B, t.C, mode, ftz)).ToList(), result);
    }

    [Test]
    public void MadWithRoundingIsFma()
    {
        var triples = Triples.Take(400).ToList();
        var result = new ElementwiseKernel("mad.rn.f32 %o0, %i0, %i1, %i2;", ["f32", "f32", "f32"], ["f32"])
            .Run(ElementwiseKernel.Bits(triples.Select(t => t.A)), ElementwiseKernel.Bits(triples.Select(t => t.B)), ElementwiseKernel.Bits(triples.Select(t => t.C)))[0];
        AssertBits32("mad.rn.f32", triples.Select(t => $"{t.A:R}, {t.B:R}, {t.C:R}").ToList(),
            triples.Select(t => IeeeReference.Fma(t.A, t.B, t.C, RoundingMode.Nearest)).ToList(), result);
    }

    [Test]
    public void DivRoundsOnceInEveryMode([Values] RoundingMode mode, [Values] bool ftz)
    {
        string op = $"div.{Modifier(mode)}{(ftz ? ".ftz" : "")}.f32";
        AssertBits32(op, Text(Pairs), Pairs.Select(p => IeeeReference.Div(p.A, p.B, mode, ftz)).ToList(), RunBinary(op, Pairs));
    }

    [Test]
    public void RcpRoundsOnceInEveryMode([Values] RoundingMode mode, [Values] bool ftz)
    {
        string op = $"rcp.{Modifier(mode)}{(ftz ? ".ftz" : "")}.f32";
        var inputs = Pairs.Select(p => p.B).Concat(FloatTestValues.Specials).ToList();
        var result = new ElementwiseKernel($"{op} %o0, %i0;", "f32", "f32").Run(ElementwiseKernel.Bits(inputs))[0];
        AssertBits32(op, inputs.Select(x => Hex(x)).ToList(), inputs.Select(x => IeeeReference.Div(1f, x, mode, ftz)).ToList(), result);
    }

    [Test]
    public void SqrtRoundsOnceInEveryMode([Values] RoundingMode mode, [Values] bool ftz)
    {
        string op = $"sqrt.{Modifier(mode)}{(ftz ? ".ftz" : "")}.f32";
        var inputs = Pairs.Select(p => MathF.Abs(p.A)).Concat(FloatTestValues.Specials).ToList();
        var result = new ElementwiseKernel($"{op} %o0, %i0;", "f32", "f32").Run(ElementwiseKernel.Bits(inputs))[0];
        AssertBits32(op, inputs.Select(x => Hex(x)).ToList(), inputs.Select(x => IeeeReference.Sqrt(x, mode, ftz)).ToList(), result);
    }

    [TestCase("add.f32")]
    [TestCase("sub.f32")]
    [TestCase("mul.f32")]
    [TestCase("add.ftz.f32")]
    [TestCase("mul.ftz.f32")]
    public void PlainFormsRoundToNearest(string op)
    {
        bool ftz = op.Contains(".ftz");
        var expected = Pairs.Select(p => op.StartsWith("add") ? IeeeReference.Add(p.A, p.B, RoundingMode.Nearest, ftz)
            : op.StartsWith("sub") ? IeeeReference.Sub(p.A, p.B, RoundingMode.Nearest, ftz)
            : IeeeReference.Mul(p.A, p.B, RoundingMode.Nearest, ftz)).ToList();
        AssertBits32(op, Text(Pairs), expected, RunBinary(op, Pairs));
    }

    [Test]
    public void SaturatedAddClampsToTheUnitIntervalAndNaNToZero()
    {
        // .sat: results clamped to [0.0, 1.0]; NaN results become +0.0 (PTX ISA §9.7.3.1).
        var expected = Pairs.Select(p =>
        {
            float r = BitConverter.UInt32BitsToSingle(IeeeReference.Add(p.A, p.B, RoundingMode.Nearest));
            return BitConverter.SingleToUInt32Bits(float.IsNaN(r) ? 0f : r < 0 ? 0f : r > 1 ? 1f : r);
        }).ToList();
        var actual = RunBinary("add.sat.f32", Pairs);

        // The sign of a zero result is not specified for .sat: compare -0 as +0.
        AssertBits32("add.sat.f32", Text(Pairs), expected.Select(e => e & 0x7FFF_FFFFu).ToList(), actual.Select(a => a & 0x7FFF_FFFFul).ToList());
    }

    [TestCase("rz", 0x7F7F_FFFFu, 0xFF7F_FFFFu)]
    [TestCase("rm", 0x7F7F_FFFFu, 0xFF80_0000u)]
    [TestCase("rp", 0x7F80_0000u, 0xFF7F_FFFFu)]
    [TestCase("rn", 0x7F80_0000u, 0xFF80_0000u)]
    public void OverflowGoesToInfinityOrMaxByDirection(string mode, uint positive, uint negative)
    {
        foreach (string op in new[] { "add", "mul", "div" })
        {
            float b = op switch { "add" => float.MaxValue, "mul" => 2f, _ => 0.5f };
            var result = RunBinary($"{op}.{mode}.f32", [(float.MaxValue, b), (-float.MaxValue, op == "add" ? -b : b)]);
            Assert.That(result, Is.EqualTo(new ulong[] { positive, negative }), $"{op}.{mode}.f32 of ±max");
        }
    }

    [TestCase("rn", 0x0000_0000u, 0x8000_0000u)]
    [TestCase("rz", 0x0000_0000u, 0x8000_0000u)]
    [TestCase("rm", 0x8000_0000u, 0x8000_0000u)]
    [TestCase("rp", 0x0000_0000u, 0x8000_0000u)]
    public void ExactZeroSumsTakeTheIeeeSign(string mode, uint oneMinusOne, uint minusZeroPlusMinusZero)
    {
        var result = RunBinary($"add.{mode}.f32", [(1f, -1f), (-0f, -0f)]);
        Assert.That(result, Is.EqualTo(new ulong[] { oneMinusOne, minusZeroPlusMinusZero }));
    }

    [Test]
    public void UnderflowInDirectedModesGivesTheSmallestSubnormalOrZero()
    {
        float tiny = MathF.ScaleB(1f, -100);
        var up = RunBinary("mul.rp.f32", [(tiny, tiny), (-tiny, tiny)]);
        var down = RunBinary("mul.rm.f32", [(tiny, tiny), (-tiny, tiny)]);
        var upFtz = RunBinary("mul.rp.ftz.f32", [(tiny, tiny)]);
        var divUp = RunBinary("div.rp.f32", [(tiny, MathF.ScaleB(1f, 100))]);
        Assert.That(up, Is.EqualTo(new ulong[] { 0x0000_0001, 0x8000_0000 }));
        Assert.That(down, Is.EqualTo(new ulong[] { 0x0000_0000, 0x8000_0001 }));
        Assert.That(upFtz, Is.EqualTo(new ulong[] { 0x0000_0000 }), "a subnormal result is flushed to zero under .ftz");
        Assert.That(divUp, Is.EqualTo(new ulong[] { 0x0000_0001 }));
    }

    [Test]
    public void F64ArithmeticRoundsToNearest()
    {
        var rng = new Random(5);
        var a = new List<double>();
        var b = new List<double>();
        var c = new List<double>();
        double[] specials = [0.0, -0.0, double.Epsilon, -double.Epsilon, 1.0, -1.0, double.MaxValue, 1e-310, 3.0];
        foreach (double x in specials)
        {
            foreach (double y in specials)
            {
                a.Add(x);
                b.Add(y);
                c.Add(-x);
            }
        }

        for (int i = 0; i < 600; i++)
        {
            double x = Math.ScaleB(1 + rng.NextDouble(), rng.Next(-60, 60)) * (rng.Next(2) == 0 ? 1 : -1);
            double y = Math.ScaleB(1 + rng.NextDouble(), rng.Next(-60, 60)) * (rng.Next(2) == 0 ? 1 : -1);
            a.Add(x);
            b.Add(y);
            c.Add(i % 2 == 0 ? -(x * y) : Math.ScaleB(1 + rng.NextDouble(), rng.Next(-120, 120)));
        }

        var text = a.Select((x, i) => $"{Hex(x)}, {Hex(b[i])}, {Hex(c[i])}").ToList();
        var bits = (A: ElementwiseKernel.Bits(a), B: ElementwiseKernel.Bits(b), C: ElementwiseKernel.Bits(c));
        ulong[] Run(string body, int inputs) => new ElementwiseKernel(body, [.. Enumerable.Repeat("f64", inputs)], ["f64"])
            .Run([.. new[] { bits.A, bits.B, bits.C }.Take(inputs)])[0];

        AssertBits64("add.rn.f64", text, a.Select((x, i) => IeeeReference.AddF64(x, b[i])).ToList(), Run("add.rn.f64 %o0, %i0, %i1;", 2));
        AssertBits64("sub.f64", text, a.Select((x, i) => IeeeReference.AddF64(x, -b[i])).ToList(), Run("sub.f64 %o0, %i0, %i1;", 2));
        AssertBits64("mul.rn.f64", text, a.Select((x, i) => IeeeReference.MulF64(x, b[i])).ToList(), Run("mul.rn.f64 %o0, %i0, %i1;", 2));
        AssertBits64("fma.rn.f64", text, a.Select((x, i) => IeeeReference.FmaF64(x, b[i], c[i])).ToList(), Run("fma.rn.f64 %o0, %i0, %i1, %i2;", 3));
        AssertBits64("div.rn.f64", text, a.Select((x, i) => IeeeReference.DivF64(x, b[i])).ToList(), Run("div.rn.f64 %o0, %i0, %i1;", 2));
        AssertBits64("sqrt.rn.f64", text, a.Select(x => IeeeReference.SqrtF64(Math.Abs(x))).ToList(), Run("abs.f64 %o0, %i0; sqrt.rn.f64 %o0, %o0;", 1));
    }

    [TestCase("add.rz.f64 %o0, %i0, %i1;")]
    [TestCase("mul.rm.f64 %o0, %i0, %i1;")]
    [TestCase("fma.rp.f64 %o0, %i0, %i1, %i0;")]
    [TestCase("div.rz.f64 %o0, %i0, %i1;")]
    [TestCase("sqrt.rp.f64 %o0, %i0;")]
    [TestCase("rcp.rm.f64 %o0, %i0;")]
    public void DirectedF64RoundingIsRejectedAtLoad(string body)
    {
        // f64 arithmetic runs in round-to-nearest only; a directed f64 mode must fail loudly, never round to nearest silently.
        var kernel = new ElementwiseKernel(body, ["f64", "f64"], ["f64"]);
        var error = Assert.Throws<UnsupportedPtxException>(() => kernel.Run([1], [3]));
        Assert.That(error!.Line, Is.GreaterThan(0));
        Assert.That(error.Message, Does.Contain(body.Split(' ')[0]));
    }
}
