using System.Runtime.CompilerServices;
using System.Numerics;
using Qwen3Next.PtxEmulator.Decoding;
using static System.BitConverter;

namespace Qwen3Next.PtxEmulator.Execution;

/// <summary>
/// Integer, logic, comparison and float handlers (PTX ISA §9.7.1–9.7.5). Each loops over the executing lanes of
/// one warp; operands are register offsets (immediates are constant registers). 32-bit results are stored
/// zero-extended in the 64-bit slots.
/// </summary>
internal sealed unsafe partial class Interpreter
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Arithmetic(Warp w, in Instr ins, uint exec)
    {
        ulong* r = w.R;
        ulong* d = r + ins.D, a = r + ins.A;
        ulong* b = ins.B >= 0 ? r + ins.B : null;
        ulong* c = ins.C >= 0 ? r + ins.C : null;
        switch (ins.Op)
        {
            case Op.Mov:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = a[l];
                }

                break;
            case Op.AddI32:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = (uint)a[l] + (uint)b[l];
                }

                break;
            case Op.AddI64:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = a[l] + b[l];
                }

                break;
            case Op.SubI32:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = (uint)a[l] - (uint)b[l];
                }

                break;
            case Op.SubI64:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = a[l] - b[l];
                }

                break;
            case Op.MulLoI32:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = (uint)a[l] * (uint)b[l];
                }

                break;
            case Op.MulLoI64:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = a[l] * b[l];
                }

                break;
            case Op.MulWideS32:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = (ulong)((long)(int)a[l] * (int)b[l]);
                }

                break;
            case Op.MulWideU32:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = (ulong)(uint)a[l] * (uint)b[l];
                }

                break;
            case Op.MadLoI32:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = ((uint)a[l] * (uint)b[l]) + (uint)c[l];
                }

                break;
            case Op.MadLoI64:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = (a[l] * b[l]) + c[l];
                }

                break;
            case Op.MadWideS32:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = (ulong)((long)(int)a[l] * (int)b[l]) + c[l];
                }

                break;
            case Op.MadWideU32:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = ((ulong)(uint)a[l] * (uint)b[l]) + c[l];
                }

                break;
            case Op.Shl32:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    uint s = (uint)b[l];
                    d[l] = s >= 32 ? 0 : (uint)a[l] << (int)s;
                }

                break;
            case Op.Shl64:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    uint s = (uint)b[l];
                    d[l] = s >= 64 ? 0 : a[l] << (int)s;
                }

                break;
            case Op.ShrU32:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    uint s = (uint)b[l];
                    d[l] = s >= 32 ? 0 : (uint)a[l] >> (int)s;
                }

                break;
            case Op.ShrS32:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    uint s = Math.Min((uint)b[l], 31);
                    d[l] = (uint)((int)a[l] >> (int)s);
                }

                break;
            case Op.ShrU64:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    uint s = (uint)b[l];
                    d[l] = s >= 64 ? 0 : a[l] >> (int)s;
                }

                break;
            case Op.ShrS64:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    uint s = Math.Min((uint)b[l], 63);
                    d[l] = (ulong)((long)a[l] >> (int)s);
                }

                break;
            case Op.And:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = a[l] & b[l];
                }

                break;
            case Op.Or:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = a[l] | b[l];
                }

                break;
            case Op.Xor:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = a[l] ^ b[l];
                }

                break;
            case Op.Selp:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = (c[l] & 1) != 0 ? a[l] : b[l];
                }

                break;
            case Op.SetpInt:
                SetpInt(w, in ins, exec);
                break;
            case Op.Cvta:
                Cvta(d, a, in ins, exec);
                break;
            case Op.Membar:
                break;
            case Op.SetpF32:
                SetpF32(w, in ins, exec);
                break;
            case Op.AddF32:
            case Op.SubF32:
            case Op.MulF32:
                Float32Binary(w, in ins, exec);
                break;
            case Op.FmaF32:
                if (ins.Rnd == Rounding.Nearest && !ins.Ftz && !ins.Sat)
                {
                    for (uint m = exec; m != 0; m &= m - 1)
                    {
                        int l = BitOperations.TrailingZeroCount(m);
                        d[l] = SingleToUInt32Bits(MathF.FusedMultiplyAdd(UInt32BitsToSingle((uint)a[l]), UInt32BitsToSingle((uint)b[l]), UInt32BitsToSingle((uint)c[l])));
                    }
                }
                else
                {
                    for (uint m = exec; m != 0; m &= m - 1)
                    {
                        int l = BitOperations.TrailingZeroCount(m);
                        float x = F(a[l], ins.Ftz), y = F(b[l], ins.Ftz), z = F(c[l], ins.Ftz);
                        d[l] = Out(PtxMath.Fma(x, y, z, ins.Rnd), in ins);
                    }
                }

                break;
            case Op.NegF32:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = SingleToUInt32Bits(-F(a[l], ins.Ftz));
                }

                break;
            case Op.AbsF32:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = SingleToUInt32Bits(F(a[l], ins.Ftz)) & 0x7FFF_FFFFu;
                }

                break;
            default:
                ArithmeticRare(w, in ins, exec);
                break;
        }
    }

    /// <summary>cvta (PTX ISA §9.7.9.20): generic ↔ state-space addresses through the shared and local windows;
    /// global and const addresses are the same in both.</summary>
    private static void Cvta(ulong* d, ulong* a, in Instr ins, uint exec)
    {
        ulong window = ins.Space switch
        {
            MemorySpace.Shared => KernelDecoder.SharedWindow,
            MemorySpace.Local => KernelDecoder.LocalWindow,
            _ => 0,
        };
        for (uint m = exec; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            d[l] = ins.ToSpace ? a[l] - window : a[l] + window;
        }
    }

    /// <summary>An f32 operand, flushed when .ftz.</summary>
    private static float F(ulong bits, bool ftz)
    {
        float x = UInt32BitsToSingle((uint)bits);
        return ftz ? PtxMath.Ftz(x) : x;
    }

    /// <summary>An f32 result with .ftz and .sat applied, as register bits.</summary>
    private static ulong Out(float x, in Instr ins)
    {
        if (ins.Ftz)
        {
            x = PtxMath.Ftz(x);
        }

        if (ins.Sat)
        {
            x = PtxMath.Saturate(x);
        }

        return SingleToUInt32Bits(x);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Float32Binary(Warp w, in Instr ins, uint exec)
    {
        ulong* d = w.R + ins.D, a = w.R + ins.A, b = w.R + ins.B;
        bool plain = ins.Rnd == Rounding.Nearest && !ins.Sat;
        switch (ins.Op)
        {
            case Op.AddF32 when plain && !ins.Ftz:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = SingleToUInt32Bits(UInt32BitsToSingle((uint)a[l]) + UInt32BitsToSingle((uint)b[l]));
                }

                return;
            case Op.MulF32 when plain && !ins.Ftz:
                for (uint m = exec; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    d[l] = SingleToUInt32Bits(UInt32BitsToSingle((uint)a[l]) * UInt32BitsToSingle((uint)b[l]));
                }

                return;
        }

        for (uint m = exec; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            float x = F(a[l], ins.Ftz), y = F(b[l], ins.Ftz);
            float result = ins.Op switch
            {
                Op.AddF32 => PtxMath.Add(x, y, ins.Rnd),
                Op.SubF32 => PtxMath.Add(x, -y, ins.Rnd),
                _ => PtxMath.Mul(x, y, ins.Rnd),
            };
            d[l] = Out(result, in ins);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SetpInt(Warp w, in Instr ins, uint exec)
    {
        ulong* a = w.R + ins.A, b = w.R + ins.B;
        int bits = ins.Type.Bits();
        bool signed = ins.Type.IsSigned();
        for (uint m = exec; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            int cmp;
            if (signed)
            {
                long x = SignExtend(a[l], bits), y = SignExtend(b[l], bits);
                cmp = x.CompareTo(y);
            }
            else
            {
                ulong x = ZeroExtend(a[l], bits), y = ZeroExtend(b[l], bits);
                cmp = x.CompareTo(y);
            }

            bool t = ins.Cmp switch
            {
                CompareOp.Eq => cmp == 0,
                CompareOp.Ne => cmp != 0,
                CompareOp.Lt => cmp < 0,
                CompareOp.Le => cmp <= 0,
                CompareOp.Gt => cmp > 0,
                _ => cmp >= 0,
            };
            WritePredicates(w, in ins, l, t);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SetpF32(Warp w, in Instr ins, uint exec)
    {
        ulong* a = w.R + ins.A, b = w.R + ins.B;
        for (uint m = exec; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            WritePredicates(w, in ins, l, Compare(F(a[l], ins.Ftz), F(b[l], ins.Ftz), ins.Cmp));
        }
    }

    internal static bool Compare(double x, double y, CompareOp op)
    {
        bool nan = double.IsNaN(x) || double.IsNaN(y);
        return op switch
        {
            CompareOp.Eq => !nan && x == y,
            CompareOp.Ne => !nan && x != y,
            CompareOp.Lt => !nan && x < y,
            CompareOp.Le => !nan && x <= y,
            CompareOp.Gt => !nan && x > y,
            CompareOp.Ge => !nan && x >= y,
            CompareOp.Equ => nan || x == y,
            CompareOp.Neu => nan || x != y,
            CompareOp.Ltu => nan || x < y,
            CompareOp.Leu => nan || x <= y,
            CompareOp.Gtu => nan || x > y,
            CompareOp.Geu => nan || x >= y,
            CompareOp.Num => !nan,
            _ => nan,
        };
    }

    /// <summary>setp's p (and q = !t combined): p = t BoolOp c, q = !t BoolOp c (PTX ISA §9.7.6.1).</summary>
    private static void WritePredicates(Warp w, in Instr ins, int l, bool t)
    {
        bool p = t, q = !t;
        if (ins.Combine != BoolOp.None)
        {
            bool c = (w.R[ins.C + l] & 1) != 0 ^ ins.Uniform;
            (p, q) = ins.Combine switch
            {
                BoolOp.And => (t && c, !t && c),
                BoolOp.Or => (t || c, !t || c),
                _ => (t ^ c, !t ^ c),
            };
        }

        w.R[ins.D + l] = p ? 1ul : 0ul;
        if (ins.D2 >= 0)
        {
            w.R[ins.D2 + l] = q ? 1ul : 0ul;
        }
    }

    internal static long SignExtend(ulong value, int bits) => bits >= 64 ? (long)value : (long)(value << (64 - bits)) >> (64 - bits);

    internal static ulong ZeroExtend(ulong value, int bits) => bits >= 64 ? value : value & ((1ul << bits) - 1);
}
