using System.Numerics;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// Reference results of the PTX float instructions from their definitions (IEEE 754 operations on exact rationals,
/// rounded once), independent of the emulator: NaN for invalid operations, IEEE signs of exact zeros, and
/// <c>.ftz</c> as the PTX ISA defines it (subnormal inputs and results become zeros of the same sign).
/// Results are bits; NaN results are <see cref="NaN32"/> (tests compare NaN as "any NaN").
/// </summary>
internal static class IeeeReference
{
    public const uint NaN32 = 0x7FFF_FFFF;
    public const ulong NaN64 = 0x7FFF_FFFF_FFFF_FFFF;

    private static readonly BinaryFormat F32 = BinaryFormat.Binary32;

    public static float Flush(float x) => float.IsSubnormal(x) ? (float.IsNegative(x) ? -0f : 0f) : x;

    private static uint FlushBits(uint bits, bool ftz)
        => ftz && F32.IsSubnormal(bits) ? bits & 0x8000_0000u : bits;

    private static uint Bits(float x) => float.IsNaN(x) ? NaN32 : BitConverter.SingleToUInt32Bits(x);

    private static ExactRational R(float x) => ExactRational.FromSingle(x);

    /// <summary>The sign of an exact zero sum x + y (IEEE 754 §6.3): the common sign of two like-signed zeros,
    /// otherwise +0, or −0 when rounding down.</summary>
    private static uint ZeroSum(bool bothZero, bool xNegative, bool yNegative, RoundingMode mode)
        => bothZero && xNegative == yNegative ? (xNegative ? 0x8000_0000u : 0u) : mode == RoundingMode.Down ? 0x8000_0000u : 0u;

    public static uint Add(float a, float b, RoundingMode mode, bool ftz = false)
    {
        if (ftz)
        {
            (a, b) = (Flush(a), Flush(b));
        }

        if (!float.IsFinite(a) || !float.IsFinite(b))
        {
            return Bits((float)((double)a + b));
        }

        var sum = R(a) + R(b);
        uint result = sum.IsZero ? ZeroSum(a == 0 && b == 0, float.IsNegative(a), float.IsNegative(b), mode) : (uint)sum.Round(F32, mode);
        return FlushBits(result, ftz);
    }

    public static uint Sub(float a, float b, RoundingMode mode, bool ftz = false) => Add(a, -b, mode, ftz);

    public static uint Mul(float a, float b, RoundingMode mode, bool ftz = false)
    {
        if (ftz)
        {
            (a, b) = (Flush(a), Flush(b));
        }

        if (!float.IsFinite(a) || !float.IsFinite(b))
        {
            return Bits((float)((double)a * b));
        }

        var product = R(a) * R(b);
        uint result = product.IsZero ? (float.IsNegative(a) ^ float.IsNegative(b) ? 0x8000_0000u : 0u) : (uint)product.Round(F32, mode);
        return FlushBits(result, ftz);
    }

    public static uint Fma(float a, float b, float c, RoundingMode mode, bool ftz = false)
    {
        if (ftz)
        {
            (a, b, c) = (Flush(a), Flush(b), Flush(c));
        }

        if (!float.IsFinite(a) || !float.IsFinite(b) || !float.IsFinite(c))
        {
            // The product of two floats is exact in double, so double arithmetic gives the right special value.
            return Bits((float)(((double)a * b) + c));
        }

        var exact = (R(a) * R(b)) + R(c);
        bool productZero = a == 0 || b == 0;
        uint result = exact.IsZero
            ? ZeroSum(productZero && c == 0, float.IsNegative(a) ^ float.IsNegative(b), float.IsNegative(c), mode)
            : (uint)exact.Round(F32, mode);
        return FlushBits(result, ftz);
    }

    public static uint Div(float a, float b, RoundingMode mode, bool ftz = false)
    {
        if (ftz)
        {
            (a, b) = (Flush(a), Flush(b));
        }

        if (!float.IsFinite(a) || !float.IsFinite(b) || b == 0)
        {
            return Bits((float)((double)a / b));
        }

        if (a == 0)
        {
            return float.IsNegative(a) ^ float.IsNegative(b) ? 0x8000_0000u : 0u;
        }

        return FlushBits((uint)(R(a) / R(b)).Round(F32, mode), ftz);
    }

    public static uint Sqrt(float a, RoundingMode mode, bool ftz = false)
    {
        if (ftz)
        {
            a = Flush(a);
        }

        if (float.IsNaN(a) || a < 0)
        {
            return NaN32;
        }

        if (a == 0 || float.IsPositiveInfinity(a))
        {
            return BitConverter.SingleToUInt32Bits(a);
        }

        return FlushBits((uint)SqrtExact(R(a)).Round(F32, mode), ftz);
    }

    /// <summary>
    /// A rational that rounds like √x in every format up to binary64: floor(√x · 2^k) for a fine k, plus half a
    /// step when √x is irrational or not a multiple of 2^-k (no rounding boundary of a coarser format lies strictly
    /// inside one step).
    /// </summary>
    public static ExactRational SqrtExact(ExactRational x)
    {
        const int k = 1200;
        BigInteger scaled = (x.Numerator << (2 * k)) / x.Denominator;
        bool exactScaled = (x.Numerator << (2 * k)) % x.Denominator == 0;
        BigInteger root = IntegerSqrt(scaled);
        bool exact = exactScaled && root * root == scaled;
        return exact ? ExactRational.Scale(root, -k) : ExactRational.Scale((2 * root) + 1, -k - 1);
    }

    private static BigInteger IntegerSqrt(BigInteger n)
    {
        if (n.IsZero)
        {
            return n;
        }

        var x = BigInteger.One << (int)((n.GetBitLength() + 1) / 2);
        while (true)
        {
            var y = (x + (n / x)) >> 1;
            if (y >= x)
            {
                return x;
            }

            x = y;
        }
    }

    /// <summary>f64 operations rounded to nearest (what the emulator supports for f64).</summary>
    public static ulong AddF64(double a, double b)
    {
        if (!double.IsFinite(a) || !double.IsFinite(b))
        {
            return Bits64(a + b);
        }

        var sum = ExactRational.FromDouble(a) + ExactRational.FromDouble(b);
        return sum.IsZero ? (double.IsNegative(a) && double.IsNegative(b) ? 0x8000_0000_0000_0000ul : 0ul) : sum.Round(BinaryFormat.Binary64, RoundingMode.Nearest);
    }

    public static ulong MulF64(double a, double b)
    {
        if (!double.IsFinite(a) || !double.IsFinite(b) || a == 0 || b == 0)
        {
            return Bits64(a * b);
        }

        return (ExactRational.FromDouble(a) * ExactRational.FromDouble(b)).Round(BinaryFormat.Binary64, RoundingMode.Nearest);
    }

    public static ulong FmaF64(double a, double b, double c)
    {
        if (!double.IsFinite(a) || !double.IsFinite(b) || !double.IsFinite(c))
        {
            return NaN64; // callers only use finite inputs here
        }

        var exact = (ExactRational.FromDouble(a) * ExactRational.FromDouble(b)) + ExactRational.FromDouble(c);
        if (exact.IsZero)
        {
            bool productNegative = double.IsNegative(a) ^ double.IsNegative(b);
            return (a == 0 || b == 0) && c == 0 && productNegative && double.IsNegative(c) ? 0x8000_0000_0000_0000ul : 0ul;
        }

        return exact.Round(BinaryFormat.Binary64, RoundingMode.Nearest);
    }

    public static ulong DivF64(double a, double b)
    {
        if (!double.IsFinite(a) || !double.IsFinite(b) || a == 0 || b == 0)
        {
            return Bits64(a / b);
        }

        return (ExactRational.FromDouble(a) / ExactRational.FromDouble(b)).Round(BinaryFormat.Binary64, RoundingMode.Nearest);
    }

    public static ulong SqrtF64(double a)
    {
        if (double.IsNaN(a) || a < 0)
        {
            return NaN64;
        }

        if (a == 0 || double.IsPositiveInfinity(a))
        {
            return (ulong)BitConverter.DoubleToInt64Bits(a);
        }

        return SqrtExact(ExactRational.FromDouble(a)).Round(BinaryFormat.Binary64, RoundingMode.Nearest);
    }

    private static ulong Bits64(double x) => double.IsNaN(x) ? NaN64 : (ulong)BitConverter.DoubleToInt64Bits(x);
}
