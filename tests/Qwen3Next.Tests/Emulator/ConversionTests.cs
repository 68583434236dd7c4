using System.Numerics;
using NUnit.Framework;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;
using static Qwen3Next.Tests.Emulator.FloatComparison;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// cvt (PTX ISA §9.7.9.21) against exact arithmetic: float → integer rounds in the named mode, saturates to the
/// destination range and maps NaN to 0; integer → float and f64 → f32 round once in the named mode; .rni/.rzi/.rmi/.rpi
/// to integral floats; .sat clamps to [0, 1] with NaN → 0; bf16 and f16 round to their formats; integer
/// conversions truncate, extend by signedness, or saturate with .sat.
/// </summary>
[TestFixture]
public sealed class ConversionTests
{
    private static readonly float[] FloatInputs = BuildFloatInputs();

    private static float[] BuildFloatInputs()
    {
        var values = new List<float>(FloatTestValues.Specials)
        {
            0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 0.49999997f, 2147483520f, 2147483648f, -2147483648f, -2147483904f, 4294967040f,
            4294967296f, 32767.5f, -32768.5f, 65535.5f, 9.223372E+18f, 9.2233725E+18f, -9.223372E+18f, -9.2233725E+18f,
            1.8446743E+19f, 1.8446744E+19f, 127.5f, -128.5f, 255.5f, 1e-30f, -1e-30f, 16777217f, 8388608.5f,
        };
        var rng = new Random(23);
        for (int i = 0; i < 600; i++)
        {
            values.Add(i % 3 == 0 ? FloatTestValues.RandomBits(rng) : FloatTestValues.Random(rng, -4, 66));
            if (i % 10 == 0)
            {
                values.Add(MathF.Floor(FloatTestValues.Random(rng, 0, 20)) + 0.5f); // exact halves
            }
        }

        return [.. values];
    }

    private static ulong Mask(int bits) => bits == 64 ? ulong.MaxValue : (1ul << bits) - 1;

    /// <summary>The saturating, NaN-to-zero float → integer result, from the exact value.</summary>
    private static ulong ExpectedInteger(double x, RoundingMode mode, int bits, bool signed)
    {
        if (double.IsNaN(x))
        {
            return 0;
        }

        BigInteger v = double.IsInfinity(x) ? (x > 0 ? BigInteger.One << 200 : -(BigInteger.One << 200)) : ExactRational.FromDouble(x).RoundToInteger(mode);
        BigInteger lo = signed ? -(BigInteger.One << (bits - 1)) : BigInteger.Zero;
        BigInteger hi = signed ? (BigInteger.One << (bits - 1)) - 1 : (BigInteger.One << bits) - 1;
        v = BigInteger.Max(lo, BigInteger.Min(hi, v));
        return (ulong)(v & Mask(bits));
    }

    [Test]
    public void FloatToIntegerRoundsSaturatesAndMapsNaNToZero(
        [Values("rni", "rzi", "rmi", "rpi")] string rounding, [Values("s32", "u32", "s64", "u64", "s16", "u16")] string type)
    {
        var mode = rounding switch { "rni" => RoundingMode.Nearest, "rzi" => RoundingMode.Zero, "rmi" => RoundingMode.Down, _ => RoundingMode.Up };
        int bits = int.Parse(type[1..]);
        bool signed = type[0] == 's';
        string op = $"cvt.{rounding}.{type}.f32";
        var result = new ElementwiseKernel($"{op} %o0, %i0;", "f32", type).Run(ElementwiseKernel.Bits(FloatInputs))[0];
        AssertIntegers(op, FloatInputs.Select(x => Hex(x)).ToList(), FloatInputs.Select(x => ExpectedInteger(x, mode, bits, signed)).ToList(), result);

        var doubles = FloatInputs.Select(x => (double)x).Concat([2147483647.5, -2147483648.5, 4294967295.5, 9.2233720368547758E+18, 1e300, -1e300]).ToList();
        string op64 = $"cvt.{rounding}.{type}.f64";
        var result64 = new ElementwiseKernel($"{op64} %o0, %i0;", "f64", type).Run(ElementwiseKernel.Bits(doubles))[0];
        AssertIntegers(op64, doubles.Select(x => Hex(x)).ToList(), doubles.Select(x => ExpectedInteger(x, mode, bits, signed)).ToList(), result64);
    }

    [Test]
    public void FloatToIntegerWithFtzFlushesSubnormalsBeforeRounding()
    {
        float[] inputs = [float.Epsilon, -float.Epsilon, BitConverter.UInt32BitsToSingle(0x007F_FFFF), 1e-30f, -1e-30f];
        var up = new ElementwiseKernel("cvt.rpi.ftz.s32.f32 %o0, %i0;", "f32", "s32").Run(ElementwiseKernel.Bits(inputs))[0];
        var down = new ElementwiseKernel("cvt.rmi.s32.f32 %o0, %i0;", "f32", "s32").Run(ElementwiseKernel.Bits(inputs))[0];
        Assert.That(up, Is.EqualTo(new ulong[] { 0, 0, 0, 1, 0 }), "subnormals become 0 under .ftz; 1e-30 is normal and rounds up to 1");
        Assert.That(down, Is.EqualTo(new ulong[] { 0, 0xFFFF_FFFF, 0, 0, 0xFFFF_FFFF }), "without .ftz a negative subnormal rounds down to -1");
    }

    [Test]
    public void IntegerToFloatRoundsOnceInEveryMode([Values] RoundingMode mode, [Values("s32", "u32", "s64", "u64", "s16", "u16")] string type)
    {
        int bits = int.Parse(type[1..]);
        bool signed = type[0] == 's';
        var rng = new Random(31);
        var values = new List<ulong> { 0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x100_0001, 0x100_0003, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
            0x20_0000_0000_0001, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, ulong.MaxValue, 0xFFFF_FF80_0000_0000, 0xFFFF_FF7F_FFFF_FFFF };
        for (int i = 0; i < 300; i++)
        {
            values.Add((ulong)rng.NextInt64() >> rng.Next(0, 40) ^ (rng.Next(2) == 0 ? 0 : ulong.MaxValue));
        }

        var inputs = values.Select(v => v & Mask(bits)).Distinct().ToList();
        BigInteger Value(ulong v) => signed ? (BigInteger)(((long)(v << (64 - bits))) >> (64 - bits)) : (BigInteger)v;
        ulong Round(ulong v, BinaryFormat format) => Value(v).IsZero ? 0 : ExactRational.FromInteger(Value(v)).Round(format, mode);

        string op = $"cvt.{Modifier(mode)}.f32.{type}";
        var result = new ElementwiseKernel($"{op} %o0, %i0;", type, "f32").Run([.. inputs])[0];
        AssertBits32(op, inputs.Select(v => $"0x{v:X}").ToList(), inputs.Select(v => (uint)Round(v, BinaryFormat.Binary32)).ToList(), result);

        string op64 = $"cvt.{Modifier(mode)}.f64.{type}";
        var result64 = new ElementwiseKernel($"{op64} %o0, %i0;", type, "f64").Run([.. inputs])[0];
        AssertBits64(op64, inputs.Select(v => $"0x{v:X}").ToList(), inputs.Select(v => Round(v, BinaryFormat.Binary64)).ToList(), result64);
    }

    [Test]
    public void DoubleToFloatRoundsOnceInEveryMode([Values] RoundingMode mode, [Values] bool ftz)
    {
        var rng = new Random(37);
        var inputs = new List<double> { 0.0, -0.0, double.Epsilon, -double.Epsilon, 1e-46, 7e-46, -7e-46, float.Epsilon, 1.5 * float.Epsilon,
            double.MaxValue, -double.MaxValue, float.MaxValue, 3.4028235677973366E+38, 3.4028235677973362E+38, -3.40282357e38, double.PositiveInfinity,
            double.NegativeInfinity, double.NaN, 1.0, 1.0 + Math.ScaleB(1, -24), 1.0 + Math.ScaleB(1, -24) + Math.ScaleB(1, -40), 1.1754942106924411E-38 };
        for (int i = 0; i < 800; i++)
        {
            inputs.Add(Math.ScaleB(1 + rng.NextDouble(), rng.Next(-160, 130)) * (rng.Next(2) == 0 ? 1 : -1));
        }

        uint Expected(double x)
        {
            if (double.IsNaN(x) || double.IsInfinity(x))
            {
                return double.IsNaN(x) ? IeeeReference.NaN32 : BitConverter.SingleToUInt32Bits((float)x);
            }

            uint r = x == 0 ? (double.IsNegative(x) ? 0x8000_0000u : 0u) : (uint)ExactRational.FromDouble(x).Round(BinaryFormat.Binary32, mode);
            return ftz && BinaryFormat.Binary32.IsSubnormal(r) ? r & 0x8000_0000u : r;
        }

        string op = $"cvt.{Modifier(mode)}{(ftz ? ".ftz" : "")}.f32.f64";
        var result = new ElementwiseKernel($"{op} %o0, %i0;", "f64", "f32").Run(ElementwiseKernel.Bits(inputs))[0];
        AssertBits32(op, inputs.Select(x => Hex(x)).ToList(), inputs.Select(Expected).ToList(), result);
    }

    [Test]
    public void FloatToDoubleIsExact()
    {
        var result = new ElementwiseKernel("cvt.f64.f32 %o0, %i0;", "f32", "f64").Run(ElementwiseKernel.Bits(FloatInputs))[0];
        AssertBits64("cvt.f64.f32", FloatInputs.Select(x => Hex(x)).ToList(),
            FloatInputs.Select(x => float.IsNaN(x) ? IeeeReference.NaN64 : (ulong)BitConverter.DoubleToInt64Bits(x)).ToList(), result);
        var flushed = new ElementwiseKernel("cvt.ftz.f64.f32 %o0, %i0;", "f32", "f64").Run(ElementwiseKernel.Bits([float.Epsilon, -float.Epsilon, 1f]))[0];
        Assert.That(flushed, Is.EqualTo(new ulong[] { 0, 0x8000_0000_0000_0000, (ulong)BitConverter.DoubleToInt64Bits(1.0) }));
    }

    [Test]
    public void RoundToIntegralFloat([Values] RoundingMode mode)
    {
        string irnd = mode switch { RoundingMode.Nearest => "rni", RoundingMode.Zero => "rzi", RoundingMode.Down => "rmi", _ => "rpi" };
        uint Expected(float x)
        {
            if (!float.IsFinite(x))
            {
                return float.IsNaN(x) ? IeeeReference.NaN32 : BitConverter.SingleToUInt32Bits(x);
            }

            // Integral results are exact; a zero result keeps the operand's sign (IEEE roundToIntegral).
            var integer = x == 0 ? BigInteger.Zero : ExactRational.FromSingle(x).RoundToInteger(mode);
            return integer.IsZero ? (float.IsNegative(x) ? 0x8000_0000u : 0u) : (uint)ExactRational.FromInteger(integer).Round(BinaryFormat.Binary32, RoundingMode.Nearest);
        }

        string op = $"cvt.{irnd}.f32.f32";
        var result = new ElementwiseKernel($"{op} %o0, %i0;", "f32", "f32").Run(ElementwiseKernel.Bits(FloatInputs))[0];
        AssertBits32(op, FloatInputs.Select(x => Hex(x)).ToList(), FloatInputs.Select(Expected).ToList(), result);

        var doubles = FloatInputs.Select(x => (double)x * 1.0000001).ToList();
        var result64 = new ElementwiseKernel($"cvt.{irnd}.f64.f64 %o0, %i0;", "f64", "f64").Run(ElementwiseKernel.Bits(doubles))[0];
        var expected64 = doubles.Select(x => !double.IsFinite(x) ? (double.IsNaN(x) ? IeeeReference.NaN64 : (ulong)BitConverter.DoubleToInt64Bits(x))
            : ExactRational.FromDouble(x).RoundToInteger(mode) is var i && i.IsZero ? (double.IsNegative(x) ? 0x8000_0000_0000_0000ul : 0ul)
            : ExactRational.FromInteger(ExactRational.FromDouble(x).RoundToInteger(mode)).Round(BinaryFormat.Binary64, RoundingMode.Nearest)).ToList();
        AssertBits64($"cvt.{irnd}.f64.f64", doubles.Select(x => Hex(x)).ToList(), expected64, result64);
    }

    [Test]
    public void SaturatingFloatConversionClampsToTheUnitIntervalAndNaNToZero()
    {
        uint Expected(float x, bool ftz)
        {
            if (ftz)
            {
                x = IeeeReference.Flush(x);
            }

            return BitConverter.SingleToUInt32Bits(float.IsNaN(x) ? 0f : x <= 0 ? 0f : x > 1 ? 1f : x);
        }

        foreach (bool ftz in new[] { false, true })
        {
            string op = ftz ? "cvt.ftz.sat.f32.f32" : "cvt.sat.f32.f32";
            var result = new ElementwiseKernel($"{op} %o0, %i0;", "f32", "f32").Run(ElementwiseKernel.Bits(FloatInputs))[0];

            // The sign of a zero result is not specified for .sat: compare -0 as +0.
            AssertBits32(op, FloatInputs.Select(x => Hex(x)).ToList(), FloatInputs.Select(x => Expected(x, ftz)).ToList(),
                result.Select(r => r & 0x7FFF_FFFFul).ToList());
        }
    }

    [Test]
    public void Bf16RoundsOnceInEveryModeAndWidensExactly([Values] RoundingMode mode)
    {
        var rng = new Random(41);
        var inputs = new List<float>(FloatInputs)
        {
            BitConverter.UInt32BitsToSingle(0x3F80_8000), BitConverter.UInt32BitsToSingle(0x3F81_8000), BitConverter.UInt32BitsToSingle(0x7F7F_8000),
            BitConverter.UInt32BitsToSingle(0x7F7F_7FFF), BitConverter.UInt32BitsToSingle(0x0000_8000), BitConverter.UInt32BitsToSingle(0x8001_8000),
        };
        for (int i = 0; i < 300; i++)
        {
            inputs.Add(BitConverter.UInt32BitsToSingle((uint)(rng.NextInt64(0, 1L << 32) & 0xFFFF_8000) | (uint)(i % 2 == 0 ? 0x8000 : 0x7FFF)));
        }

        inputs.RemoveAll(float.IsNaN);
        inputs.Add(float.NaN);
        ulong Expected(float x)
        {
            if (float.IsNaN(x) || float.IsInfinity(x))
            {
                return float.IsNaN(x) ? 0x7FFF : BitConverter.SingleToUInt32Bits(x) >> 16;
            }

            return x == 0 ? BitConverter.SingleToUInt32Bits(x) >> 16 : ExactRational.FromSingle(x).Round(BinaryFormat.BFloat16, mode);
        }

        string op = $"cvt.{Modifier(mode)}.bf16.f32";
        var result = new ElementwiseKernel($"{op} %o0, %i0;", "f32", "bf16").Run(ElementwiseKernel.Bits(inputs))[0];
        var failures = inputs.Select((x, i) => (x, e: Expected(x), a: result[i]))
            .Where(t => t.e != t.a && !(BinaryFormat.BFloat16.IsNaN(t.e) && BinaryFormat.BFloat16.IsNaN(t.a)))
            .Select(t => $"{op}({Hex(t.x)}): expected 0x{t.e:X4}, got 0x{t.a:X4}").ToList();
        Assert.That(failures, Is.Empty, string.Join(Environment.NewLine, failures.Take(12)));

        var bf16 = Enumerable.Range(0, 1 << 16).Where(i => i % 7 == 0 || (i & 0x7F80) == 0 || (i & 0x7F80) == 0x7F80).Select(i => (ulong)i).ToArray();
        var widened = new ElementwiseKernel("cvt.f32.bf16 %o0, %i0;", "bf16", "f32").Run(bf16)[0];
        AssertBits32("cvt.f32.bf16", bf16.Select(b => $"0x{b:X4}").ToList(),
            bf16.Select(b => BinaryFormat.BFloat16.IsNaN(b) ? IeeeReference.NaN32 : (uint)b << 16).ToList(), widened);
    }

    [Test]
    public void F16RoundsToNearestAndWidensExactly()
    {
        var rng = new Random(43);
        var inputs = new List<float>(FloatInputs) { 65504f, 65519.996f, 65520f, 6.1035156E-05f, 5.9604645E-08f, 2.9802322E-08f, 2.9802326E-08f, 1.0004883f, 1.0014648f };
        for (int i = 0; i < 300; i++)
        {
            inputs.Add(FloatTestValues.Random(rng, -26, 16));
        }

        var result = new ElementwiseKernel("cvt.rn.f16.f32 %o0, %i0;", "f32", "f16").Run(ElementwiseKernel.Bits(inputs))[0];
        var expected = inputs.Select(x => float.IsNaN(x) ? 0x7FFFul : float.IsInfinity(x) ? (x > 0 ? 0x7C00ul : 0xFC00ul)
            : x == 0 ? (float.IsNegative(x) ? 0x8000ul : 0ul) : ExactRational.FromSingle(x).Round(BinaryFormat.Binary16, RoundingMode.Nearest)).ToList();
        var failures = inputs.Select((x, i) => (x, e: expected[i], a: result[i]))
            .Where(t => t.e != t.a && !(BinaryFormat.Binary16.IsNaN(t.e) && BinaryFormat.Binary16.IsNaN(t.a)))
            .Select(t => $"cvt.rn.f16.f32({Hex(t.x)}): expected 0x{t.e:X4}, got 0x{t.a:X4}").ToList();
        Assert.That(failures, Is.Empty, string.Join(Environment.NewLine, failures.Take(12)));

        var halves = Enumerable.Range(0, 1 << 16).Where(i => i % 5 == 0 || (i & 0x7C00) == 0 || (i & 0x7C00) == 0x7C00).Select(i => (ulong)i).ToArray();
        var widened = new ElementwiseKernel("cvt.f32.f16 %o0, %i0;", "f16", "f32").Run(halves)[0];
        AssertBits32("cvt.f32.f16", halves.Select(b => $"0x{b:X4}").ToList(), halves.Select(b => BinaryFormat.Binary16.IsNaN(b) ? IeeeReference.NaN32
            : BinaryFormat.Binary16.IsInfinity(b) ? ((b & 0x8000) != 0 ? 0xFF80_0000u : 0x7F80_0000u)
            : (b & 0x7FFF) == 0 ? (uint)(b << 16) : (uint)ExactRational.FromBits(b, BinaryFormat.Binary16).Round(BinaryFormat.Binary32, RoundingMode.Nearest)).ToList(), widened);
    }

    [TestCase("rz")]
    [TestCase("rm")]
    [TestCase("rp")]
    public void DirectedRoundingToF16IsRejectedAtLoad(string mode)
    {
        var kernel = new ElementwiseKernel($"cvt.{mode}.f16.f32 %o0, %i0;", "f32", "f16");
        var error = Assert.Throws<UnsupportedPtxException>(() => kernel.Run([0x3F80_0000]));
        Assert.That(error!.Message, Does.Contain($"cvt.{mode}.f16.f32"));
    }

    [Test]
    public void IntegerConversionsTruncateExtendOrSaturate()
    {
        var rng = new Random(47);
        var values = new List<ulong> { 0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000,
            0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, ulong.MaxValue, 0xFFFF_FFFF_8000_0000, 0xFFFF_FFFF_7FFF_FFFF };
        for (int i = 0; i < 200; i++)
        {
            values.Add((ulong)rng.NextInt64() >> rng.Next(0, 60) ^ (rng.Next(2) == 0 ? 0 : ulong.MaxValue));
        }

        static BigInteger Read(ulong v, string type)
        {
            int bits = int.Parse(type[1..]);
            ulong low = v & Mask(bits);
            return type[0] == 's' ? (BigInteger)(((long)(low << (64 - bits))) >> (64 - bits)) : low;
        }

        static ulong Write(BigInteger v, string type, bool saturate)
        {
            int bits = int.Parse(type[1..]);
            if (saturate)
            {
                BigInteger lo = type[0] == 's' ? -(BigInteger.One << (bits - 1)) : 0, hi = type[0] == 's' ? (BigInteger.One << (bits - 1)) - 1 : (BigInteger.One << bits) - 1;
                v = BigInteger.Max(lo, BigInteger.Min(hi, v));
            }

            return (ulong)(v & Mask(bits));
        }

        foreach (var (dst, src) in new[] { ("s64", "s32"), ("u64", "u32"), ("s64", "u32"), ("u32", "u64"), ("s32", "s64"), ("u16", "u32"), ("s32", "s16"),
            ("u32", "u16"), ("u32", "s16"), ("s16", "s32"), ("u16", "s64") })
        {
            foreach (bool sat in new[] { false, true })
            {
                if (sat && int.Parse(dst[1..]) > int.Parse(src[1..]) && dst[0] == src[0])
                {
                    continue; // .sat is illegal where the destination holds every source value
                }

                string op = $"cvt{(sat ? ".sat" : "")}.{dst}.{src}";
                var inputs = values.Select(v => v & Mask(int.Parse(src[1..]))).ToArray();
                var result = new ElementwiseKernel($"{op} %o0, %i0;", src, dst).Run(inputs)[0];
                AssertIntegers(op, inputs.Select(v => $"0x{v:X}").ToList(), inputs.Select(v => Write(Read(v, src), dst, sat)).ToList(), result);
            }
        }
    }

    [Test]
    public void NarrowSignedConversionSignExtendsIntoAWiderRegister()
    {
        // PTX ISA §6.4.2 (relaxed type-checking of destinations): a signed result narrower than its destination
        // register is sign-extended to the register's width, an unsigned one zero-extended.
        string ptx = PtxTestKernels.Header + """
            .visible .entry narrow(.param .u64 out)
            {
                .reg .b32 %r<8>;
                .reg .b64 %rd<4>;
                ld.param.u64 %rd0, [out];
                mov.b32 %r0, 0x000001F0;
                cvt.s8.s32 %r1, %r0;
                cvt.u8.s32 %r2, %r0;
                mov.b32 %r0, 0x00018765;
                cvt.s16.s32 %r3, %r0;
                cvt.u16.s32 %r4, %r0;
                cvt.s32.s16 %rd1, %r0;
                st.global.v4.u32 [%rd0], {%r1, %r2, %r3, %r4};
                st.global.u64 [%rd0+16], %rd1;
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var output = gpu.Memory.Allocate(24, "out");
        PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 1), output);
        var words = PtxTestKernels.Download<uint>(gpu, output, 4);
        var wide = PtxTestKernels.Download<ulong>(gpu, output, 3)[2];
        Assert.That(words, Is.EqualTo(new uint[] { 0xFFFF_FFF0, 0x0000_00F0, 0xFFFF_8765, 0x0000_8765 }));
        Assert.That(wide, Is.EqualTo(0xFFFF_FFFF_FFFF_8765ul), "cvt.s32.s16 into a 64-bit register sign-extends to 64 bits");
    }
}
