using System.Numerics;

namespace Qwen3Next.Tests.Emulator;

/// <summary>IEEE 754 rounding directions, as the PTX modifiers name them.</summary>
public enum RoundingMode
{
    /// <summary>.rn: to nearest, ties to even.</summary>
    Nearest,

    /// <summary>.rz: towards zero.</summary>
    Zero,

    /// <summary>.rm: towards −∞.</summary>
    Down,

    /// <summary>.rp: towards +∞.</summary>
    Up,
}

/// <summary>A binary interchange format: precision (significand bits, hidden bit included) and exponent range.</summary>
internal sealed record BinaryFormat(int Precision, int ExponentBits)
{
    public static readonly BinaryFormat Binary16 = new(11, 5);
    public static readonly BinaryFormat BFloat16 = new(8, 8);
    public static readonly BinaryFormat Binary32 = new(24, 8);
    public static readonly BinaryFormat Binary64 = new(53, 11);

    public int Bias => (1 << (ExponentBits - 1)) - 1;

    public int MinExponent => 1 - Bias;

    public int MaxExponent => Bias;

    public int TotalBits => Precision + ExponentBits;

    public ulong SignBit => 1ul << (TotalBits - 1);

    public ulong InfinityBits => (((1ul << ExponentBits) - 1) << (Precision - 1));

    public ulong MaxFiniteBits => InfinityBits - 1;

    public bool IsNaN(ulong bits) => (bits & ~SignBit) > InfinityBits;

    public bool IsInfinity(ulong bits) => (bits & ~SignBit) == InfinityBits;

    public bool IsSubnormal(ulong bits) => (bits & InfinityBits) == 0 && (bits & ~SignBit) != 0;
}

/// <summary>
/// An exact rational number (numerator / positive denominator) for reference results: every finite float is one,
/// sums, products and quotients stay exact, and <see cref="Round"/> rounds once to any <see cref="BinaryFormat"/>
/// in any direction, following IEEE 754 (gradual underflow, overflow to ±∞ or ±max by direction). Written from the
/// standard, independently of the emulator's float code.
/// </summary>
internal readonly struct ExactRational
{
    public ExactRational(BigInteger numerator, BigInteger denominator)
    {
        if (denominator.Sign == 0)
        {
            throw new DivideByZeroException();
        }

        if (denominator.Sign < 0)
        {
            numerator = -numerator;
            denominator = -denominator;
        }

        Numerator = numerator;
        Denominator = denominator;
    }

    public BigInteger Numerator { get; }

    public BigInteger Denominator { get; }

    public int Sign => Numerator.Sign;

    public bool IsZero => Numerator.IsZero;

    public static ExactRational FromInteger(BigInteger value) => new(value, BigInteger.One);

    /// <summary>The exact value of finite <paramref name="bits"/> in <paramref name="format"/>.</summary>
    public static ExactRational FromBits(ulong bits, BinaryFormat format)
    {
        if (format.IsNaN(bits) || format.IsInfinity(bits))
        {
            throw new ArgumentException("not a finite value");
        }

        bool negative = (bits & format.SignBit) != 0;
        int biased = (int)((bits >> (format.Precision - 1)) & ((1ul << format.ExponentBits) - 1));
        BigInteger significand = bits & ((1ul << (format.Precision - 1)) - 1);
        int exponent;
        if (biased == 0)
        {
            exponent = format.MinExponent - (format.Precision - 1);
        }
        else
        {
            significand += BigInteger.One << (format.Precision - 1);
            exponent = biased - format.Bias - (format.Precision - 1);
        }

        if (negative)
        {
            significand = -significand;
        }

        return Scale(significand, exponent);
    }

    public static ExactRational FromSingle(float value) => FromBits(BitConverter.SingleToUInt32Bits(value), BinaryFormat.Binary32);

    public static ExactRational FromDouble(double value) => FromBits((ulong)BitConverter.DoubleToInt64Bits(value), BinaryFormat.Binary64);

    /// <summary>value × 2^exponent.</summary>
    public static ExactRational Scale(BigInteger value, int exponent)
        => exponent >= 0 ? new(value << exponent, BigInteger.One) : new(value, BigInteger.One << -exponent);

    public static ExactRational operator +(ExactRational a, ExactRational b)
        => new((a.Numerator * b.Denominator) + (b.Numerator * a.Denominator), a.Denominator * b.Denominator);

    public static ExactRational operator -(ExactRational a) => new(-a.Numerator, a.Denominator);

    public static ExactRational operator -(ExactRational a, ExactRational b) => a + (-b);

    public static ExactRational operator *(ExactRational a, ExactRational b) => new(a.Numerator * b.Numerator, a.Denominator * b.Denominator);

    public static ExactRational operator /(ExactRational a, ExactRational b) => new(a.Numerator * b.Denominator, a.Denominator * b.Numerator);

    public int CompareTo(ExactRational other) => (Numerator * other.Denominator).CompareTo(other.Numerator * Denominator);

    /// <summary>The integer this value rounds to in <paramref name="mode"/> (cvt.rni/rzi/rmi/rpi).</summary>
    public BigInteger RoundToInteger(RoundingMode mode)
    {
        var quotient = BigInteger.DivRem(BigInteger.Abs(Numerator), Denominator, out var remainder);
        bool negative = Sign < 0;
        bool up = mode switch
        {
            RoundingMode.Nearest => (remainder * 2) > Denominator || ((remainder * 2) == Denominator && !quotient.IsEven),
            RoundingMode.Zero => false,
            RoundingMode.Up => !remainder.IsZero && !negative,
            _ => !remainder.IsZero && negative,
        };
        var magnitude = up ? quotient + 1 : quotient;
        return negative ? -magnitude : magnitude;
    }

    /// <summary>The non-zero value rounded once to <paramref name="format"/>, as its bits.</summary>
    public ulong Round(BinaryFormat format, RoundingMode mode)
    {
        if (IsZero)
        {
            throw new InvalidOperationException("the sign of an exact zero depends on the operation; the caller decides it");
        }

        bool negative = Sign < 0;
        var num = BigInteger.Abs(Numerator);
        var den = Denominator;

        // e = floor(log2(|x|)).
        long e = (long)num.GetBitLength() - (long)den.GetBitLength();
        if (CompareScaled(num, den, e) < 0)
        {
            e--;
        }

        long quantum = Math.Max(e, format.MinExponent) - (format.Precision - 1);
        BigInteger scaledNum = quantum >= 0 ? num : num << (int)-quantum;
        BigInteger scaledDen = quantum >= 0 ? den << (int)quantum : den;
        var m = BigInteger.DivRem(scaledNum, scaledDen, out var rest);
        bool roundUp = mode switch
        {
            RoundingMode.Nearest => (rest * 2) > scaledDen || ((rest * 2) == scaledDen && !m.IsEven),
            RoundingMode.Zero => false,
            RoundingMode.Up => !rest.IsZero && !negative,
            _ => !rest.IsZero && negative,
        };
        if (roundUp)
        {
            m += 1;
        }

        if (m == BigInteger.One << format.Precision)
        {
            m >>= 1;
            quantum++;
        }

        ulong sign = negative ? format.SignBit : 0;
        if (m.IsZero)
        {
            return sign;
        }

        if (quantum + (long)m.GetBitLength() - 1 > format.MaxExponent)
        {
            bool toInfinity = mode switch
            {
                RoundingMode.Nearest => true,
                RoundingMode.Zero => false,
                RoundingMode.Up => !negative,
                _ => negative,
            };
            return sign | (toInfinity ? format.InfinityBits : format.MaxFiniteBits);
        }

        var hidden = BigInteger.One << (format.Precision - 1);
        if (m < hidden)
        {
            return sign | (ulong)m; // subnormal: quantum is the minimum
        }

        ulong biased = (ulong)(quantum + (format.Precision - 1) + format.Bias);
        return sign | (biased << (format.Precision - 1)) | (ulong)(m - hidden);
    }

    private static int CompareScaled(BigInteger num, BigInteger den, long e)
        => e >= 0 ? num.CompareTo(den << (int)e) : (num << (int)-e).CompareTo(den);

    public double ToDouble() => BitConverter.Int64BitsToDouble((long)(IsZero ? 0 : Round(BinaryFormat.Binary64, RoundingMode.Nearest)));

    public override string ToString() => $"{Numerator}/{Denominator} (~{ToDouble():R})";
}
