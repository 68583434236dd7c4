using System.Runtime.CompilerServices;
using Qwen3Next.PtxEmulator.Decoding;

namespace Qwen3Next.PtxEmulator.Execution;

/// <summary>
/// Floating-point semantics of PTX that C# does not share (PTX ISA §9.7.3 and §9.7.4): flush-to-zero, directed
/// rounding of add/mul/fma, NaN-aware min/max, the approximate special functions, and saturating conversions.
/// Directed rounding takes the round-to-nearest result and the sign of its exact error (TwoSum, or an exact
/// double product), then steps one ulp where the mode requires it. Approximate functions return the correctly
/// rounded value, which lies within every documented error bound.
/// </summary>
internal static class PtxMath
{
    public const uint CanonicalNaN32 = 0x7FFF_FFFF;
    public const ulong CanonicalNaN64 = 0x7FFF_FFFF_FFFF_FFFF;

    /// <summary>Sign-preserving zero for a subnormal (.ftz, PTX ISA §9.7.3 "Subnormal numbers").</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Ftz(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        return (bits & 0x7F80_0000) == 0 ? BitConverter.UInt32BitsToSingle(bits & 0x8000_0000) : x;
    }

    /// <summary>.sat for f32 results: clamp to [0, 1], NaN → +0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Saturate(float x) => float.IsNaN(x) ? 0f : x < 0f ? 0f : x > 1f ? 1f : x;

    private static float Next(float x, bool up) => up ? MathF.BitIncrement(x) : MathF.BitDecrement(x);

    /// <summary>Rounds: given the round-to-nearest result <paramref name="nearest"/> of an exact value whose
    /// difference from it has sign <paramref name="errorSign"/>, the result in <paramref name="mode"/>.</summary>
    private static float Direct(float nearest, int errorSign, Rounding mode, bool overflowed, bool exactNegative)
    {
        if (overflowed)
        {
            // The exact value is finite but beyond MaxValue: RN gave ±inf.
            return mode switch
            {
                Rounding.Zero => exactNegative ? -float.MaxValue : float.MaxValue,
                Rounding.Down => exactNegative ? float.NegativeInfinity : float.MaxValue,
                Rounding.Up => exactNegative ? -float.MaxValue : float.PositiveInfinity,
                _ => nearest,
            };
        }

        if (errorSign == 0)
        {
            return nearest;
        }

        return mode switch
        {
            Rounding.Down => errorSign < 0 ? Next(nearest, up: false) : nearest,
            Rounding.Up => errorSign > 0 ? Next(nearest, up: true) : nearest,
            Rounding.Zero => nearest > 0 ? (errorSign < 0 ? Next(nearest, up: false) : nearest)
                : nearest < 0 ? (errorSign > 0 ? Next(nearest, up: true) : nearest)
                : nearest,
            _ => nearest,
        };
    }

    public static float Add(float a, float b, Rounding mode)
    {
        float s = a + b;
        if (mode == Rounding.Nearest || float.IsNaN(s) || float.IsInfinity(a) || float.IsInfinity(b))
        {
            return s;
        }

        if (float.IsInfinity(s))
        {
            return Direct(s, 0, mode, overflowed: true, exactNegative: s < 0);
        }

        // TwoSum: e = (a + b) - s exactly (no overflow here).
        float bb = s - a;
        float e = (a - (s - bb)) + (b - bb);
        if (s == 0 && e == 0)
        {
            return ExactZero(a == 0 && b == 0, float.IsNegative(a), float.IsNegative(b), mode);
        }

        return Direct(s, Math.Sign(e), mode, false, false);
    }

    public static float Mul(float a, float b, Rounding mode)
    {
        float p = a * b;
        if (mode == Rounding.Nearest || float.IsNaN(p) || float.IsInfinity(a) || float.IsInfinity(b))
        {
            return p;
        }

        double exact = (double)a * b; // exact: 24 + 24 bits fit in 53
        if (float.IsInfinity(p))
        {
            return Direct(p, 0, mode, overflowed: true, exactNegative: exact < 0);
        }

        return Direct(p, Math.Sign(exact - p), mode, false, false);
    }

    public static float Fma(float a, float b, float c, Rounding mode)
    {
        float r = MathF.FusedMultiplyAdd(a, b, c);
        if (mode == Rounding.Nearest || float.IsNaN(r) || float.IsInfinity(a) || float.IsInfinity(b) || float.IsInfinity(c))
        {
            return r;
        }

        double p = (double)a * b;          // exact
        double s = p + c;                  // TwoSum in double: s + e == p + c exactly
        double bb = s - p;
        double e = (p - (s - bb)) + (c - bb);
        if (float.IsInfinity(r))
        {
            return Direct(r, 0, mode, overflowed: true, exactNegative: s < 0);
        }

        double d = s - r;                  // exact (Sterbenz): s and r are within a factor of 2
        int sign = d != 0 ? Math.Sign(d) : Math.Sign(e);
        if (r == 0 && sign == 0)
        {
            return ExactZero(p == 0 && c == 0, float.IsNegative(a) ^ float.IsNegative(b), float.IsNegative(c), mode);
        }

        return Direct(r, sign, mode, false, false);
    }

    /// <summary>min.f32/max.f32: a NaN operand yields the other operand; two NaNs the canonical NaN; −0 &lt; +0.</summary>
    public static float Min(float a, float b)
    {
        if (float.IsNaN(a))
        {
            return float.IsNaN(b) ? BitConverter.UInt32BitsToSingle(CanonicalNaN32) : b;
        }

        if (float.IsNaN(b))
        {
            return a;
        }

        if (a == 0 && b == 0)
        {
            return float.IsNegative(a) ? a : b;
        }

        return a < b ? a : b;
    }

    public static float Max(float a, float b)
    {
        if (float.IsNaN(a))
        {
            return float.IsNaN(b) ? BitConverter.UInt32BitsToSingle(CanonicalNaN32) : b;
        }

        if (float.IsNaN(b))
        {
            return a;
        }

        if (a == 0 && b == 0)
        {
            return float.IsNegative(a) ? b : a;
        }

        return a > b ? a : b;
    }

    public static double Min(double a, double b)
    {
        if (double.IsNaN(a))
        {
            return double.IsNaN(b) ? BitConverter.UInt64BitsToDouble(CanonicalNaN64) : b;
        }

        if (double.IsNaN(b))
        {
            return a;
        }

        if (a == 0 && b == 0)
        {
            return double.IsNegative(a) ? a : b;
        }

        return a < b ? a : b;
    }

    public static double Max(double a, double b)
    {
        if (double.IsNaN(a))
        {
            return double.IsNaN(b) ? BitConverter.UInt64BitsToDouble(CanonicalNaN64) : b;
        }

        if (double.IsNaN(b))
        {
            return a;
        }

        if (a == 0 && b == 0)
        {
            return double.IsNegative(a) ? b : a;
        }

        return a > b ? a : b;
    }

    /// <summary>ex2.approx.f32 (max rel. error 2^-22.5 documented): 2^x correctly rounded.</summary>
    public static float Ex2(float x) => (float)Math.Pow(2.0, x);

    /// <summary>lg2.approx.f32: log2(x); lg2(±0) = −inf, lg2(x &lt; 0) = NaN.</summary>
    public static float Lg2(float x) => x == 0 ? float.NegativeInfinity : (float)Math.Log2(x);

    /// <summary>rcp.approx.f32 (max 1 ulp documented): 1/x correctly rounded; rcp(±0) = ±inf.</summary>
    public static float Rcp(float x) => 1f / x;

    /// <summary>rsqrt.approx.f32: 1/sqrt(x); rsqrt(±0) = ±inf, negative → NaN.</summary>
    public static float Rsqrt(float x) => x == 0 ? (float.IsNegative(x) ? float.NegativeInfinity : float.PositiveInfinity) : (float)(1.0 / Math.Sqrt(x));

    /// <summary>div.approx.f32 (PTX ISA §9.7.3.8): a·(1/b), 2 ulp for |b| in [2^-126, 2^126]; for 2^126 &lt; |b| &lt; 2^128
    /// the result is NaN when a is infinite and 0 otherwise. Computed as the correctly rounded quotient in range.</summary>
    public static float DivApprox(float a, float b)
    {
        float magnitude = MathF.Abs(b);
        if (magnitude > 8.507059e37f && !float.IsInfinity(magnitude) && !float.IsNaN(magnitude))
        {
            return float.IsInfinity(a) ? float.NaN : float.IsNaN(a) ? a : 0f * a * b;
        }

        return a / b;
    }

    /// <summary>f32 → bf16 bits, round to nearest even; NaN stays a quiet NaN.</summary>
    public static ushort ToBf16(float f, Rounding mode)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7FFF_FFFF) > 0x7F80_0000)
        {
            return (ushort)((u >> 16) | 0x40);
        }

        uint lower = u & 0xFFFF;
        uint upper = u >> 16;
        bool negative = (u & 0x8000_0000) != 0;
        return mode switch
        {
            Rounding.Zero => (ushort)upper,
            Rounding.Down => (ushort)(lower != 0 && negative ? upper + 1 : upper),
            Rounding.Up => (ushort)(lower != 0 && !negative ? upper + 1 : upper),
            _ => (ushort)((u + 0x7FFF + ((u >> 16) & 1)) >> 16),
        };
    }

    /// <summary>Rounds a float to an integral float (cvt.rni/rzi/rmi/rpi.f32.f32).</summary>
    public static float RoundIntegral(float x, Rounding mode) => mode switch
    {
        Rounding.Zero => MathF.Truncate(x),
        Rounding.Down => MathF.Floor(x),
        Rounding.Up => MathF.Ceiling(x),
        _ => MathF.Round(x, MidpointRounding.ToEven),
    };

    public static double RoundIntegral(double x, Rounding mode) => mode switch
    {
        Rounding.Zero => Math.Truncate(x),
        Rounding.Down => Math.Floor(x),
        Rounding.Up => Math.Ceiling(x),
        _ => Math.Round(x, MidpointRounding.ToEven),
    };

    /// <summary>Float → integer of <paramref name="type"/>: round per <paramref name="mode"/>, saturate to the type's
    /// range, NaN → 0 (PTX ISA §9.7.9.21: float-to-int conversions saturate).</summary>
    public static ulong FloatToInt(double x, Rounding mode, ScalarType type)
    {
        if (double.IsNaN(x))
        {
            return 0;
        }

        double r = RoundIntegral(x, mode);
        int bits = type.Bits();
        if (type.IsSigned())
        {
            double lo = -Math.Pow(2, bits - 1), hi = Math.Pow(2, bits - 1) - 1;
            long v = r <= lo ? (long)lo : r >= hi ? (bits == 64 ? long.MaxValue : (long)hi) : (long)r;
            return bits == 64 ? (ulong)v : (ulong)v & ((1ul << bits) - 1);
        }

        double max = bits == 64 ? 18446744073709551615.0 : Math.Pow(2, bits) - 1;
        if (r <= 0)
        {
            return 0;
        }

        return r >= max ? (bits == 64 ? ulong.MaxValue : (ulong)max) : (ulong)r;
    }

    /// <summary>
    /// IEEE 754 §6.3: an exact zero sum is +0 in every mode but round-down, where it is −0; zeros of equal sign
    /// added keep that sign.
    /// </summary>
    private static float ExactZero(bool bothZero, bool firstNegative, bool secondNegative, Rounding mode)
    {
        if (bothZero && firstNegative == secondNegative)
        {
            return firstNegative ? -0f : 0f;
        }

        return mode == Rounding.Down ? -0f : 0f;
    }

    /// <summary>Integer (its 64 bits, signed or not) → f32 with the rounding mode.</summary>
    public static float IntToFloat(ulong bits, bool signed, Rounding mode)
    {
        float f = signed ? (long)bits : (float)bits;
        if (mode == Rounding.Nearest)
        {
            return f;
        }

        Int128 exact = signed ? (long)bits : (Int128)bits;
        return Direct(f, exact.CompareTo((Int128)f), mode, false, false);
    }

    public static double IntToDouble(ulong bits, bool signed, Rounding mode)
    {
        double d = signed ? (long)bits : (double)bits;
        if (mode == Rounding.Nearest)
        {
            return d;
        }

        Int128 exact = signed ? (long)bits : (Int128)bits;
        int sign = exact.CompareTo((Int128)d);
        return sign == 0 ? d : mode switch
        {
            Rounding.Down => sign < 0 ? Math.BitDecrement(d) : d,
            Rounding.Up => sign > 0 ? Math.BitIncrement(d) : d,
            _ => (d > 0 && sign < 0) ? Math.BitDecrement(d) : (d < 0 && sign > 0) ? Math.BitIncrement(d) : d,
        };
    }

    /// <summary>f64 → f32 with directed rounding.</summary>
    public static float Narrow(double x, Rounding mode)
    {
        float f = (float)x;
        if (mode == Rounding.Nearest || double.IsNaN(x) || double.IsInfinity(x))
        {
            return f;
        }

        if (float.IsInfinity(f))
        {
            return Direct(f, 0, mode, overflowed: true, exactNegative: x < 0);
        }

        return Direct(f, Math.Sign(x - f), mode, false, false);
    }
}
