using NUnit.Framework;
using static Qwen3Next.Tests.Emulator.FloatComparison;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// Float comparisons and sign operations (PTX ISA §9.3.1.2, §9.7.3): ordered comparisons are false and unordered
/// ones true when an operand is NaN; <c>num</c>/<c>nan</c> test for NaN; min/max return the non-NaN operand (NaN only
/// when both are) and order −0 below +0; abs/neg only touch the sign; <c>.ftz</c> flushes subnormal operands first.
/// </summary>
[TestFixture]
public sealed class ComparisonTests
{
    private static readonly List<(float A, float B)> Pairs = FloatTestValues.Pairs(seed: 53, randomCount: 200);

    private static bool Holds(string cmp, double a, double b)
    {
        bool nan = double.IsNaN(a) || double.IsNaN(b);
        return cmp switch
        {
            "eq" => !nan && a == b,
            "ne" => !nan && a != b,
            "lt" => !nan && a < b,
            "le" => !nan && a <= b,
            "gt" => !nan && a > b,
            "ge" => !nan && a >= b,
            "equ" => nan || a == b,
            "neu" => nan || a != b,
            "ltu" => nan || a < b,
            "leu" => nan || a <= b,
            "gtu" => nan || a > b,
            "geu" => nan || a >= b,
            "num" => !nan,
            _ => nan,
        };
    }

    [Test]
    public void SetpOrderedAndUnorderedWithNaN(
        [Values("eq", "ne", "lt", "le", "gt", "ge", "equ", "neu", "ltu", "leu", "gtu", "geu", "num", "nan")] string cmp, [Values] bool ftz)
    {
        string op = $"setp.{cmp}{(ftz ? ".ftz" : "")}.f32";
        var result = new ElementwiseKernel($"{op} %o0, %i0, %i1;", ["f32", "f32"], ["pred"])
            .Run(ElementwiseKernel.Bits(Pairs.Select(p => p.A)), ElementwiseKernel.Bits(Pairs.Select(p => p.B)))[0];
        var expected = Pairs.Select(p => ftz ? (IeeeReference.Flush(p.A), IeeeReference.Flush(p.B)) : p)
            .Select(p => Holds(cmp, p.Item1, p.Item2) ? 1ul : 0ul).ToList();
        AssertIntegers(op, Pairs.Select(p => $"{Hex(p.A)}, {Hex(p.B)}").ToList(), expected, result);

        if (!ftz)
        {
            var doubles = Pairs.Select(p => ((double)p.A * 1.5, (double)p.B * 1.5)).ToList();
            string op64 = $"setp.{cmp}.f64";
            var result64 = new ElementwiseKernel($"{op64} %o0, %i0, %i1;", ["f64", "f64"], ["pred"])
                .Run(ElementwiseKernel.Bits(doubles.Select(p => p.Item1)), ElementwiseKernel.Bits(doubles.Select(p => p.Item2)))[0];
            AssertIntegers(op64, doubles.Select(p => $"{p.Item1:R}, {p.Item2:R}").ToList(), doubles.Select(p => Holds(cmp, p.Item1, p.Item2) ? 1ul : 0ul).ToList(), result64);
        }
    }

    /// <summary>testp (PTX ISA §9.7.3.24): the class of each value, decided from its bits (exponent and mantissa
    /// fields), not from C#'s helpers the emulator uses.</summary>
    [Test]
    public void TestpClassifiesFromTheBits([Values("finite", "infinite", "number", "notanumber", "normal", "subnormal")] string property)
    {
        var values = Pairs.Select(p => p.A).Concat([0f, -0f, float.Epsilon, -float.Epsilon, float.MaxValue, float.NaN, float.PositiveInfinity, float.NegativeInfinity]).ToList();
        var result = new ElementwiseKernel($"testp.{property}.f32 %o0, %i0;", ["f32"], ["pred"]).Run(ElementwiseKernel.Bits(values))[0];
        var expected = values.Select(v =>
        {
            uint bits = BitConverter.SingleToUInt32Bits(v);
            uint exponent = (bits >> 23) & 0xFF, mantissa = bits & 0x7F_FFFF;
            bool nan = exponent == 0xFF && mantissa != 0, infinite = exponent == 0xFF && mantissa == 0;
            bool holds = property switch
            {
                "finite" => exponent != 0xFF,
                "infinite" => infinite,
                "number" => !nan,
                "notanumber" => nan,
                "normal" => exponent is > 0 and < 0xFF,
                _ => exponent == 0 && mantissa != 0,
            };
            return holds ? 1ul : 0ul;
        }).ToList();
        AssertIntegers($"testp.{property}.f32", values.Select(v => Hex(v)).ToList(), expected, result);
    }

    /// <summary>min/max (PTX ISA §9.7.3.10-11): NaN only if both are NaN, otherwise the other operand; −0 &lt; +0.</summary>
    private static double MinMax(double a, double b, bool min)
    {
        if (double.IsNaN(a) || double.IsNaN(b))
        {
            return double.IsNaN(a) ? b : a;
        }

        if (a == 0 && b == 0)
        {
            bool negative = min ? double.IsNegative(a) || double.IsNegative(b) : double.IsNegative(a) && double.IsNegative(b);
            return negative ? -0.0 : 0.0;
        }

        return min ? (a < b ? a : b) : (a > b ? a : b);
    }

    private static uint MinMax(float a, float b, bool min, bool ftz)
    {
        if (ftz)
        {
            (a, b) = (IeeeReference.Flush(a), IeeeReference.Flush(b));
        }

        double r = MinMax(a, b, min);
        return double.IsNaN(r) ? IeeeReference.NaN32 : BitConverter.SingleToUInt32Bits((float)r);
    }

    [Test]
    public void MinMaxPreferNumbersAndOrderSignedZeros([Values("min", "max")] string op, [Values] bool ftz)
    {
        string instruction = $"{op}{(ftz ? ".ftz" : "")}.f32";
        var result = new ElementwiseKernel($"{instruction} %o0, %i0, %i1;", ["f32", "f32"], ["f32"])
            .Run(ElementwiseKernel.Bits(Pairs.Select(p => p.A)), ElementwiseKernel.Bits(Pairs.Select(p => p.B)))[0];
        AssertBits32(instruction, Pairs.Select(p => $"{Hex(p.A)}, {Hex(p.B)}").ToList(), Pairs.Select(p => MinMax(p.A, p.B, op == "min", ftz)).ToList(), result);

        double[] doubles = [0.0, -0.0, double.NaN, 1.0, -1.0, double.NegativeInfinity, double.Epsilon];
        var pairs64 = doubles.SelectMany(a => doubles.Select(b => (A: a, B: b))).ToList();
        var result64 = new ElementwiseKernel($"{op}.f64 %o0, %i0, %i1;", ["f64", "f64"], ["f64"])
            .Run(ElementwiseKernel.Bits(pairs64.Select(p => p.A)), ElementwiseKernel.Bits(pairs64.Select(p => p.B)))[0];
        var expected64 = pairs64.Select(p => MinMax(p.A, p.B, op == "min")).Select(r => double.IsNaN(r) ? IeeeReference.NaN64 : (ulong)BitConverter.DoubleToInt64Bits(r)).ToList();
        AssertBits64($"{op}.f64", pairs64.Select(p => $"{p.A:R}, {p.B:R}").ToList(), expected64, result64);
    }

    [Test]
    public void AbsAndNegOnlyTouchTheSign([Values("abs", "neg")] string op, [Values] bool ftz)
    {
        var inputs = FloatTestValues.Specials.Concat(Pairs.Select(p => p.A)).ToList();
        string instruction = $"{op}{(ftz ? ".ftz" : "")}.f32";
        var result = new ElementwiseKernel($"{instruction} %o0, %i0;", "f32", "f32").Run(ElementwiseKernel.Bits(inputs))[0];
        var expected = inputs.Select(x =>
        {
            float v = ftz ? IeeeReference.Flush(x) : x;
            uint bits = BitConverter.SingleToUInt32Bits(v);
            return float.IsNaN(v) ? IeeeReference.NaN32 : op == "abs" ? bits & 0x7FFF_FFFFu : bits ^ 0x8000_0000u;
        }).ToList();
        AssertBits32(instruction, inputs.Select(x => Hex(x)).ToList(), expected, result);

        var doubles = new[] { 0.0, -0.0, double.NaN, -double.Epsilon, double.NegativeInfinity, 2.5 };
        var result64 = new ElementwiseKernel($"{op}.f64 %o0, %i0;", "f64", "f64").Run(ElementwiseKernel.Bits(doubles))[0];
        ulong Expected64(double x)
        {
            ulong bits = (ulong)BitConverter.DoubleToInt64Bits(x);
            return double.IsNaN(x) ? IeeeReference.NaN64 : op == "abs" ? bits & 0x7FFF_FFFF_FFFF_FFFFul : bits ^ 0x8000_0000_0000_0000ul;
        }

        AssertBits64($"{op}.f64", doubles.Select(x => $"{x:R}").ToList(), doubles.Select(Expected64).ToList(), result64);
    }

    [Test]
    public void NegOfNaNAndAbsOfNaNStayNaN()
    {
        ulong[] nans = [0x7FC0_0000, 0xFFC0_0000, 0x7F80_0001, 0xFFFF_FFFF];
        foreach (string op in new[] { "abs.f32", "neg.f32", "abs.ftz.f32", "neg.ftz.f32" })
        {
            var result = new ElementwiseKernel($"{op} %o0, %i0;", "f32", "f32").Run(nans)[0];
            Assert.That(result.Select(r => float.IsNaN(BitConverter.UInt32BitsToSingle((uint)r))), Is.All.True, op);
        }
    }
}
