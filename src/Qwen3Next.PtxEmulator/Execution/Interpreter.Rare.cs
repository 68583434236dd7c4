using System.Runtime.CompilerServices;
using System.Numerics;
using Qwen3Next.PtxEmulator.Decoding;
using static System.BitConverter;

namespace Qwen3Next.PtxEmulator.Execution;

/// <summary>
/// The less frequent handlers, one lane at a time through <see cref="Scalar"/>: high/wide multiplies, division
/// (division by zero yields all ones, the remainder the dividend, without a managed exception; INT_MIN / -1
/// wraps), min/max/abs/neg, bit-field ops, conversions, the f32 special functions and f64 arithmetic.
/// </summary>
internal sealed unsafe partial class Interpreter
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ArithmeticRare(Warp w, in Instr ins, uint exec)
    {
        ulong* r = w.R;
        ulong* d = r + ins.D;
        ulong* a = r + ins.A;
        ulong* b = ins.B >= 0 ? r + ins.B : a;
        ulong* c = ins.C >= 0 ? r + ins.C : a;
        ulong* e = ins.E >= 0 ? r + ins.E : a;
        if (ins.Op == Op.SetpF64)
        {
            for (uint m = exec; m != 0; m &= m - 1)
            {
                int l = BitOperations.TrailingZeroCount(m);
                WritePredicates(w, in ins, l, Compare(UInt64BitsToDouble(a[l]), UInt64BitsToDouble(b[l]), ins.Cmp));
            }

            return;
        }

        for (uint m = exec; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            d[l] = Scalar(in ins, a[l], b[l], c[l], e[l]);
        }
    }

    internal static ulong Scalar(in Instr ins, ulong a, ulong b, ulong c, ulong e)
    {
        switch (ins.Op)
        {
            case Op.MulHiS32: return (uint)(((long)(int)a * (int)b) >> 32);
            case Op.MulHiU32: return (uint)(((ulong)(uint)a * (uint)b) >> 32);
            case Op.MulHiS64: return (ulong)(long)(((Int128)(long)a * (long)b) >> 64);
            case Op.MulHiU64: return (ulong)(((UInt128)a * b) >> 64);
            case Op.MulWideS16: return (uint)((int)(short)a * (short)b);
            case Op.MulWideU16: return (uint)((ushort)a * (uint)(ushort)b);
            case Op.MadHiS32: return (uint)((((long)(int)a * (int)b) >> 32) + (int)c);
            case Op.MadHiU32: return (uint)((((ulong)(uint)a * (uint)b) >> 32) + (uint)c);
            case Op.DivS32: return (uint)DivS((int)a, (int)b);
            case Op.DivU32: return (uint)b == 0 ? uint.MaxValue : (uint)a / (uint)b;
            case Op.DivS64: return (ulong)DivS((long)a, (long)b);
            case Op.DivU64: return b == 0 ? ulong.MaxValue : a / b;
            case Op.RemS32: return (uint)RemS((int)a, (int)b);
            case Op.RemU32: return (uint)b == 0 ? (uint)a : (uint)a % (uint)b;
            case Op.RemS64: return (ulong)RemS((long)a, (long)b);
            case Op.RemU64: return b == 0 ? a : a % b;
            case Op.MinS32: return (uint)Math.Min((int)a, (int)b);
            case Op.MinU32: return Math.Min((uint)a, (uint)b);
            case Op.MinS64: return (ulong)Math.Min((long)a, (long)b);
            case Op.MinU64: return Math.Min(a, b);
            case Op.MaxS32: return (uint)Math.Max((int)a, (int)b);
            case Op.MaxU32: return Math.Max((uint)a, (uint)b);
            case Op.MaxS64: return (ulong)Math.Max((long)a, (long)b);
            case Op.MaxU64: return Math.Max(a, b);
            case Op.AbsS32: return (uint)((int)a < 0 ? unchecked(-(int)a) : (int)a);
            case Op.AbsS64: return (ulong)((long)a < 0 ? unchecked(-(long)a) : (long)a);
            case Op.NegS32: return (uint)unchecked(-(int)a);
            case Op.NegS64: return (ulong)unchecked(-(long)a);
            case Op.Not32: return ~(uint)a & (uint)(ins.Type.Bytes() >= 4 ? 0xFFFF_FFFF : (1u << ins.Type.Bits()) - 1);
            case Op.Not64: return ~a;
            case Op.NotPred: return (a & 1) ^ 1;
            case Op.Bfi32: return Bfi(a, b, (uint)c, (uint)e, 32);
            case Op.Bfi64: return Bfi(a, b, (uint)c, (uint)e, 64);
            case Op.BfeU32: return Bfe(a, (uint)b, (uint)c, 32, signed: false);
            case Op.BfeS32: return Bfe(a, (uint)b, (uint)c, 32, signed: true);
            case Op.BfeU64: return Bfe(a, (uint)b, (uint)c, 64, signed: false);
            case Op.BfeS64: return Bfe(a, (uint)b, (uint)c, 64, signed: true);
            case Op.Prmt: return Prmt((uint)a, (uint)b, (uint)c);
            case Op.Popc32: return (ulong)BitOperations.PopCount((uint)a);
            case Op.Popc64: return (ulong)BitOperations.PopCount(a);
            case Op.Clz32: return (ulong)BitOperations.LeadingZeroCount((uint)a);
            case Op.Clz64: return (ulong)BitOperations.LeadingZeroCount(a);
            case Op.Brev32: return ReverseBits((uint)a);
            case Op.Brev64: return ((ulong)ReverseBits((uint)a) << 32) | ReverseBits((uint)(a >> 32));
            case Op.Testp:
                return Classify(in ins, a) ? 1ul : 0ul;
            case Op.CvtBf16x2FromF32:
                // PTX ISA §9.7.9.21: the first source goes to the upper half.
                return ((uint)PtxMath.ToBf16(F(a, ins.Ftz), Rounding.Nearest) << 16) | PtxMath.ToBf16(F(b, ins.Ftz), Rounding.Nearest);
            case Op.SubF32:
            case Op.AddF32:
            case Op.MulF32:
            case Op.FmaF32:
                throw new InvalidOperationException("handled by the fast path");
            default:
                return ins.Op >= Op.CvtInt && ins.Op <= Op.CvtBf16FromF32 ? Convert(in ins, a) : FloatScalar(in ins, a, b, c);
        }
    }

    /// <summary>testp (PTX ISA §9.7.3.24).</summary>
    private static bool Classify(in Instr ins, ulong bits)
    {
        bool f32 = ins.Type == ScalarType.F32;
        double x = f32 ? UInt32BitsToSingle((uint)bits) : UInt64BitsToDouble(bits);
        return ins.Class switch
        {
            FloatClass.Finite => double.IsFinite(x),
            FloatClass.Infinite => double.IsInfinity(x),
            FloatClass.Number => !double.IsNaN(x),
            FloatClass.NotANumber => double.IsNaN(x),
            FloatClass.Normal => f32 ? float.IsNormal((float)x) : double.IsNormal(x),
            _ => f32 ? float.IsSubnormal((float)x) : double.IsSubnormal(x),
        };
    }

    private static int DivS(int a, int b) => b == 0 ? -1 : (a == int.MinValue && b == -1) ? int.MinValue : a / b;

    private static long DivS(long a, long b) => b == 0 ? -1 : (a == long.MinValue && b == -1) ? long.MinValue : a / b;

    private static int RemS(int a, int b) => b == 0 ? a : b == -1 ? 0 : a % b;

    private static long RemS(long a, long b) => b == 0 ? a : b == -1 ? 0 : a % b;

    /// <summary>bfi (PTX ISA §9.7.1.19): insert the low <c>len</c> bits of a into b at <c>pos</c> (each taken mod 256).</summary>
    private static ulong Bfi(ulong a, ulong b, uint pos, uint len, int width)
    {
        pos &= 0xFF;
        len &= 0xFF;
        ulong result = b;
        for (uint i = 0; i < len && pos + i < width; i++)
        {
            ulong bit = 1ul << (int)(pos + i);
            result = ((a >> (int)i) & 1) != 0 ? result | bit : result & ~bit;
        }

        return width == 32 ? (uint)result : result;
    }

    /// <summary>bfe (PTX ISA §9.7.1.18): extract <c>len</c> bits at <c>pos</c>, sign- or zero-filled above.</summary>
    private static ulong Bfe(ulong a, uint pos, uint len, int width, bool signed)
    {
        pos &= 0xFF;
        len &= 0xFF;
        int msb = width - 1;
        ulong sbit = signed && len != 0 ? (a >> (int)Math.Min(pos + len - 1, (uint)msb)) & 1 : 0;
        ulong result = 0;
        for (int i = 0; i <= msb; i++)
        {
            ulong bit = i < len && pos + i <= msb ? (a >> (int)(pos + i)) & 1 : sbit;
            result |= bit << i;
        }

        return width == 32 ? (uint)result : result;
    }

    /// <summary>prmt.b32 default mode (PTX ISA §9.7.8.7): bytes of {b, a} picked by the nibbles of c; bit 3 of a
    /// nibble replicates the picked byte's sign bit.</summary>
    private static ulong Prmt(uint a, uint b, uint c)
    {
        ulong source = ((ulong)b << 32) | a;
        uint result = 0;
        for (int i = 0; i < 4; i++)
        {
            uint selector = (c >> (4 * i)) & 0xF;
            uint value = (uint)(source >> (int)(8 * (selector & 7))) & 0xFF;
            if ((selector & 8) != 0)
            {
                value = (value & 0x80) != 0 ? 0xFFu : 0u;
            }

            result |= value << (8 * i);
        }

        return result;
    }

    private static uint ReverseBits(uint v)
    {
        v = ((v >> 1) & 0x5555_5555) | ((v & 0x5555_5555) << 1);
        v = ((v >> 2) & 0x3333_3333) | ((v & 0x3333_3333) << 2);
        v = ((v >> 4) & 0x0F0F_0F0F) | ((v & 0x0F0F_0F0F) << 4);
        v = ((v >> 8) & 0x00FF_00FF) | ((v & 0x00FF_00FF) << 8);
        return (v >> 16) | (v << 16);
    }

    /// <summary>cvt (PTX ISA §9.7.9.21).</summary>
    private static ulong Convert(in Instr ins, ulong a)
    {
        var (dt, st) = (ins.Type, ins.Type2);
        switch (ins.Op)
        {
            case Op.CvtInt:
                {
                    Int128 v = st.IsSigned() ? SignExtend(a, st.Bits()) : (Int128)ZeroExtend(a, st.Bits());
                    if (ins.Sat)
                    {
                        Int128 lo = dt.IsSigned() ? -((Int128)1 << (dt.Bits() - 1)) : 0;
                        Int128 hi = dt.IsSigned() ? ((Int128)1 << (dt.Bits() - 1)) - 1 : ((Int128)1 << dt.Bits()) - 1;
                        v = v < lo ? lo : v > hi ? hi : v;
                    }

                    // The destination's width of the (sign- or zero-extended, then wrapped) value.
                    return IntegerResult(ZeroExtend((ulong)(long)v, dt.Bits()), in ins);
                }

            case Op.CvtF32FromInt:
                {
                    ulong bits = st.IsSigned() ? (ulong)SignExtend(a, st.Bits()) : ZeroExtend(a, st.Bits());
                    return Out(PtxMath.IntToFloat(bits, st.IsSigned(), ins.Rnd), in ins);
                }

            case Op.CvtF64FromInt:
                {
                    ulong bits = st.IsSigned() ? (ulong)SignExtend(a, st.Bits()) : ZeroExtend(a, st.Bits());
                    double v = PtxMath.IntToDouble(bits, st.IsSigned(), ins.Rnd);
                    return (ulong)DoubleToInt64Bits(ins.Sat ? SaturateDouble(v) : v);
                }

            case Op.CvtIntFromF32:
                return IntegerResult(PtxMath.FloatToInt(F(a, ins.Ftz), ins.Rnd, dt), in ins);
            case Op.CvtIntFromF64:
                return IntegerResult(PtxMath.FloatToInt(UInt64BitsToDouble(a), ins.Rnd, dt), in ins);
            case Op.CvtF32FromF64:
                return Out(PtxMath.Narrow(UInt64BitsToDouble(a), ins.Rnd), in ins);
            case Op.CvtF64FromF32:
                {
                    double v = F(a, ins.Ftz);
                    return (ulong)DoubleToInt64Bits(ins.Sat ? SaturateDouble(v) : v);
                }

            case Op.CvtF32FromF32:
                {
                    float v = F(a, ins.Ftz);
                    if (ins.RoundToInt)
                    {
                        v = PtxMath.RoundIntegral(v, ins.Rnd);
                    }

                    return Out(v, in ins);
                }

            case Op.CvtF64FromF64:
                {
                    double v = UInt64BitsToDouble(a);
                    if (ins.RoundToInt)
                    {
                        v = PtxMath.RoundIntegral(v, ins.Rnd);
                    }

                    return (ulong)DoubleToInt64Bits(ins.Sat ? SaturateDouble(v) : v);
                }

            case Op.CvtF32FromF16:
                return Out((float)UInt16BitsToHalf((ushort)a), in ins);
            case Op.CvtF16FromF32:
                if (ins.Rnd != Rounding.Nearest)
                {
                    throw new InvalidOperationException("cvt to f16 with a directed rounding");
                }

                return HalfToUInt16Bits((Half)F(a, ins.Ftz));
            case Op.CvtF32FromBf16:
                return Out(UInt32BitsToSingle((uint)(ushort)a << 16), in ins);
            default:
                return PtxMath.ToBf16(F(a, ins.Ftz), ins.Rnd);
        }
    }

    /// <summary>An integer conversion result of <c>ins.Type</c>'s width as its register holds it: a signed value
    /// sign-extended to 32 bits, or to 64 in a 64-bit register (PTX ISA §6.4.2); unsigned values stay zero-extended.</summary>
    private static ulong IntegerResult(ulong value, in Instr ins)
    {
        int bits = ins.Type.Bits();
        if (!ins.Type.IsSigned() || bits >= 64)
        {
            return value;
        }

        ulong extended = (ulong)SignExtend(value, bits);
        return ins.Uniform ? extended : (uint)extended;
    }

    private static double SaturateDouble(double v) => double.IsNaN(v) ? 0 : Math.Clamp(v, 0.0, 1.0);

    /// <summary>The f32 special functions, divisions, min/max, and f64 arithmetic.</summary>
    private static ulong FloatScalar(in Instr ins, ulong a, ulong b, ulong c)
    {
        if (ins.Type == ScalarType.F64)
        {
            double x = UInt64BitsToDouble(a), y = UInt64BitsToDouble(b);
            double v = ins.Op switch
            {
                Op.AddF64 => x + y,
                Op.SubF64 => x - y,
                Op.MulF64 => x * y,
                Op.FmaF64 => Math.FusedMultiplyAdd(x, y, UInt64BitsToDouble(c)),
                Op.DivRnF64 => x / y,
                Op.NegF64 => -x,
                Op.AbsF64 => Math.Abs(x),
                Op.MinF64 => PtxMath.Min(x, y),
                Op.MaxF64 => PtxMath.Max(x, y),
                Op.RcpRnF64 => 1.0 / x,
                Op.SqrtRnF64 => Math.Sqrt(x),
                Op.RsqrtApproxF64 => 1.0 / Math.Sqrt(x),
                _ => throw new InvalidOperationException($"no f64 handler for {ins.Op}"),
            };
            return (ulong)DoubleToInt64Bits(ins.Sat ? SaturateDouble(v) : v);
        }

        float p = F(a, ins.Ftz), q = F(b, ins.Ftz);
        float result = ins.Op switch
        {
            Op.DivRnF32 => PtxMath.Div(p, q, ins.Rnd),
            Op.DivApproxF32 => PtxMath.DivApprox(p, q),
            Op.DivFullF32 => p / q,
            Op.MinF32 => PtxMath.Min(p, q),
            Op.MaxF32 => PtxMath.Max(p, q),
            Op.RcpRnF32 => PtxMath.Div(1f, p, ins.Rnd),
            Op.RcpApproxF32 => PtxMath.Rcp(p),
            Op.SqrtRnF32 => PtxMath.Sqrt(p, ins.Rnd),
            Op.SqrtApproxF32 => MathF.Sqrt(p),
            Op.RsqrtApproxF32 => PtxMath.Rsqrt(p),
            Op.Ex2ApproxF32 => PtxMath.Ex2(p),
            Op.Lg2ApproxF32 => PtxMath.Lg2(p),
            Op.SinApproxF32 => MathF.Sin(p),
            Op.CosApproxF32 => MathF.Cos(p),
            Op.TanhApproxF32 => MathF.Tanh(p),
            _ => throw new InvalidOperationException($"no handler for {ins.Op}"),
        };
        return Out(result, in ins);
    }
}
