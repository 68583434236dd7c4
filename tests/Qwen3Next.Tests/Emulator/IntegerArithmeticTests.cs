using System.Numerics;
using NUnit.Framework;
using static Qwen3Next.Tests.Emulator.FloatComparison;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// Integer instructions (PTX ISA §9.7.1, §9.7.8) against the ISA's definitions written out here: shift counts ≥ the
/// width clamp (shr.s fills with the sign), division by zero and INT_MIN / −1 raise nothing, high and wide
/// products, bit-field insert/extract, byte permute, population count, leading zeros, bit reversal, min/max.
/// </summary>
[TestFixture]
public sealed class IntegerArithmeticTests
{
    private static readonly ulong[] Edges32 =
    [
        0, 1, 2, 3, 7, 0xFF, 0xFFFF, 0x1_0000, 0x7FFF_FFFE, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFE, 0xFFFF_FFFF, 0x1234_5678, 0xDEAD_BEEF,
    ];

    private static readonly ulong[] Edges64 =
    [
        0, 1, 3, 0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x8000_0000_0000_0001, ulong.MaxValue, ulong.MaxValue - 1,
        0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210,
    ];

    private static List<ulong[]> Cases(int operands, bool wide, int random = 300, int seed = 3)
    {
        var edges = wide ? Edges64 : Edges32;
        var rng = new Random(seed);
        var cases = new List<ulong[]>();
        if (operands <= 2)
        {
            foreach (ulong a in edges)
            {
                foreach (ulong b in edges)
                {
                    cases.Add(operands == 1 ? [a] : [a, b]);
                }
            }
        }

        for (int i = 0; i < random; i++)
        {
            var c = new ulong[operands];
            for (int k = 0; k < operands; k++)
            {
                ulong v = (ulong)rng.NextInt64() ^ ((ulong)rng.NextInt64() << 1);
                c[k] = rng.Next(4) == 0 ? edges[rng.Next(edges.Length)] : wide ? v : (uint)v;
            }

            cases.Add(c);
        }

        return cases;
    }

    /// <summary>Runs <c>instruction %o0, %i0, %i1…</c> over the cases and compares with <paramref name="expected"/>.</summary>
    private static void Check(string instruction, string[] types, string resultType, IReadOnlyList<ulong[]> cases, Func<ulong[], ulong> expected)
    {
        string operands = string.Join(", ", types.Select((_, k) => $"%i{k}"));
        var inputs = types.Select((_, k) => cases.Select(c => c[k]).ToArray()).ToArray();
        var result = new ElementwiseKernel($"{instruction} %o0, {operands};", types, [resultType]).Run(inputs)[0];
        ulong mask = resultType.EndsWith("64") ? ulong.MaxValue : resultType.EndsWith("16") ? 0xFFFF : 0xFFFF_FFFF;
        AssertIntegers(instruction, cases.Select(c => string.Join(", ", c.Select(v => $"0x{v:X}"))).ToList(),
            cases.Select(c => expected(c) & mask).ToList(), result);
    }

    private static int S32(ulong v) => (int)(uint)v;

    private static long S64(ulong v) => (long)v;

    [Test]
    public void ShiftCountsAtOrAboveTheWidthClampInsteadOfWrapping()
    {
        var cases = new List<ulong[]>();
        foreach (ulong a in Edges32)
        {
            foreach (ulong count in new ulong[] { 0, 1, 5, 31, 32, 33, 63, 64, 255, 256, 0x8000_0000, 0xFFFF_FFFF })
            {
                cases.Add([a, count]);
            }
        }

        Check("shl.b32", ["b32", "u32"], "b32", cases, c => c[1] >= 32 ? 0 : (uint)(c[0] << (int)c[1]));
        Check("shr.u32", ["u32", "u32"], "u32", cases, c => c[1] >= 32 ? 0 : (uint)c[0] >> (int)c[1]);
        Check("shr.b32", ["b32", "u32"], "b32", cases, c => c[1] >= 32 ? 0 : (uint)c[0] >> (int)c[1]);
        Check("shr.s32", ["s32", "u32"], "s32", cases, c => (uint)(c[1] >= 32 ? (S32(c[0]) < 0 ? -1 : 0) : S32(c[0]) >> (int)c[1]));
    }

    [Test]
    public void SixtyFourBitShiftCountsClampToo()
    {
        var cases = new List<ulong[]>();
        foreach (ulong a in Edges64)
        {
            foreach (ulong count in new ulong[] { 0, 1, 31, 32, 63, 64, 65, 127, 0xFFFF_FFFF })
            {
                cases.Add([a, count]);
            }
        }

        Check("shl.b64", ["b64", "u32"], "b64", cases, c => c[1] >= 64 ? 0 : c[0] << (int)c[1]);
        Check("shr.u64", ["u64", "u32"], "u64", cases, c => c[1] >= 64 ? 0 : c[0] >> (int)c[1]);
        Check("shr.s64", ["s64", "u32"], "s64", cases, c => (ulong)(c[1] >= 64 ? (S64(c[0]) < 0 ? -1L : 0L) : S64(c[0]) >> (int)c[1]));
    }

    [Test]
    public void DivisionByZeroAndOverflowRaiseNothing()
    {
        // PTX leaves x/0 machine-specific; the emulator's documented values: quotient all ones (-1 signed),
        // remainder the dividend. INT_MIN / -1 wraps to INT_MIN with remainder 0, as two's complement hardware gives.
        var cases = Cases(2, wide: false);
        cases.AddRange([[5, 0], [0x8000_0000, 0], [0xFFFF_FFFF, 0], [0x8000_0000, 0xFFFF_FFFF], [0, 0]]);
        Check("div.u32", ["u32", "u32"], "u32", cases, c => (uint)c[1] == 0 ? 0xFFFF_FFFF : (uint)c[0] / (uint)c[1]);
        Check("rem.u32", ["u32", "u32"], "u32", cases, c => (uint)c[1] == 0 ? (uint)c[0] : (uint)c[0] % (uint)c[1]);
        Check("div.s32", ["s32", "s32"], "s32", cases, c => (uint)(S32(c[1]) == 0 ? -1 : S32(c[1]) == -1 ? unchecked(-S32(c[0])) : S32(c[0]) / S32(c[1])));
        Check("rem.s32", ["s32", "s32"], "s32", cases, c => (uint)(S32(c[1]) == 0 ? S32(c[0]) : S32(c[1]) == -1 ? 0 : S32(c[0]) % S32(c[1])));

        var wide = Cases(2, wide: true);
        wide.AddRange([[5, 0], [0x8000_0000_0000_0000, ulong.MaxValue], [ulong.MaxValue, 0]]);
        Check("div.u64", ["u64", "u64"], "u64", wide, c => c[1] == 0 ? ulong.MaxValue : c[0] / c[1]);
        Check("rem.u64", ["u64", "u64"], "u64", wide, c => c[1] == 0 ? c[0] : c[0] % c[1]);
        Check("div.s64", ["s64", "s64"], "s64", wide, c => (ulong)(S64(c[1]) == 0 ? -1 : S64(c[1]) == -1 ? unchecked(-S64(c[0])) : S64(c[0]) / S64(c[1])));
        Check("rem.s64", ["s64", "s64"], "s64", wide, c => (ulong)(S64(c[1]) == 0 ? S64(c[0]) : S64(c[1]) == -1 ? 0 : S64(c[0]) % S64(c[1])));
    }

    [Test]
    public void HighAndWideProducts()
    {
        var narrow = Cases(2, wide: false);
        var wide = Cases(2, wide: true);
        BigInteger Signed32(ulong v) => S32(v);
        BigInteger Signed64(ulong v) => S64(v);
        ulong Low64(BigInteger v) => (ulong)(v & ulong.MaxValue);

        Check("mul.lo.s32", ["s32", "s32"], "s32", narrow, c => Low64(Signed32(c[0]) * Signed32(c[1])));
        Check("mul.hi.s32", ["s32", "s32"], "s32", narrow, c => Low64((Signed32(c[0]) * Signed32(c[1])) >> 32));
        Check("mul.hi.u32", ["u32", "u32"], "u32", narrow, c => Low64(((BigInteger)(uint)c[0] * (uint)c[1]) >> 32));
        Check("mul.wide.s32", ["s32", "s32"], "s64", narrow, c => Low64(Signed32(c[0]) * Signed32(c[1])));
        Check("mul.wide.u32", ["u32", "u32"], "u64", narrow, c => Low64((BigInteger)(uint)c[0] * (uint)c[1]));
        Check("mul.lo.s64", ["s64", "s64"], "s64", wide, c => Low64(Signed64(c[0]) * Signed64(c[1])));
        Check("mul.hi.s64", ["s64", "s64"], "s64", wide, c => Low64((Signed64(c[0]) * Signed64(c[1])) >> 64));
        Check("mul.hi.u64", ["u64", "u64"], "u64", wide, c => Low64(((BigInteger)c[0] * c[1]) >> 64));

        var shorts = narrow.Select(c => new[] { c[0] & 0xFFFF, c[1] & 0xFFFF }).ToList();
        Check("mul.wide.s16", ["s16", "s16"], "s32", shorts, c => Low64((BigInteger)(short)c[0] * (short)c[1]));
        Check("mul.wide.u16", ["u16", "u16"], "u32", shorts, c => Low64((BigInteger)(ushort)c[0] * (ushort)c[1]));
    }

    [Test]
    public void MultiplyAddForms()
    {
        var narrow = Cases(3, wide: false, random: 400);
        var wideAddend = narrow.Select((c, i) => new[] { c[0], c[1], (c[2] << 32) ^ c[2] ^ (ulong)i }).ToList();
        BigInteger Signed32(ulong v) => S32(v);
        ulong Low64(BigInteger v) => (ulong)(v & ulong.MaxValue);

        Check("mad.lo.s32", ["s32", "s32", "s32"], "s32", narrow, c => Low64((Signed32(c[0]) * Signed32(c[1])) + Signed32(c[2])));
        Check("mad.hi.s32", ["s32", "s32", "s32"], "s32", narrow, c => Low64(((Signed32(c[0]) * Signed32(c[1])) >> 32) + Signed32(c[2])));
        Check("mad.hi.u32", ["u32", "u32", "u32"], "u32", narrow, c => Low64((((BigInteger)(uint)c[0] * (uint)c[1]) >> 32) + (uint)c[2]));
        Check("mad.wide.s32", ["s32", "s32", "s64"], "s64", wideAddend, c => Low64((Signed32(c[0]) * Signed32(c[1])) + (long)c[2]));
        Check("mad.wide.u32", ["u32", "u32", "u64"], "u64", wideAddend, c => Low64(((BigInteger)(uint)c[0] * (uint)c[1]) + c[2]));
        var wide = Cases(3, wide: true, random: 300);
        Check("mad.lo.s64", ["s64", "s64", "s64"], "s64", wide, c => Low64(((BigInteger)S64(c[0]) * S64(c[1])) + S64(c[2])));
    }

    [Test]
    public void AdditionWrapsAndNegationOfIntMinIsIntMin()
    {
        var narrow = Cases(2, wide: false);
        Check("add.s32", ["s32", "s32"], "s32", narrow, c => (uint)c[0] + (uint)c[1]);
        Check("sub.s32", ["s32", "s32"], "s32", narrow, c => (uint)c[0] - (uint)c[1]);
        Check("add.u64", ["u64", "u64"], "u64", Cases(2, wide: true), c => c[0] + c[1]);
        Check("sub.s64", ["s64", "s64"], "s64", Cases(2, wide: true), c => c[0] - c[1]);
        Check("neg.s32", ["s32"], "s32", Cases(1, wide: false), c => (uint)unchecked(-S32(c[0])));
        Check("abs.s32", ["s32"], "s32", Cases(1, wide: false), c => (uint)(S32(c[0]) == int.MinValue ? int.MinValue : Math.Abs(S32(c[0]))));
        Check("neg.s64", ["s64"], "s64", Cases(1, wide: true), c => (ulong)unchecked(-S64(c[0])));
        Check("abs.s64", ["s64"], "s64", Cases(1, wide: true), c => (ulong)(S64(c[0]) == long.MinValue ? long.MinValue : Math.Abs(S64(c[0]))));
    }

    [Test]
    public void MinAndMaxRespectSignedness()
    {
        var narrow = Cases(2, wide: false);
        var wide = Cases(2, wide: true);
        Check("min.s32", ["s32", "s32"], "s32", narrow, c => (uint)Math.Min(S32(c[0]), S32(c[1])));
        Check("max.s32", ["s32", "s32"], "s32", narrow, c => (uint)Math.Max(S32(c[0]), S32(c[1])));
        Check("min.u32", ["u32", "u32"], "u32", narrow, c => Math.Min((uint)c[0], (uint)c[1]));
        Check("max.u32", ["u32", "u32"], "u32", narrow, c => Math.Max((uint)c[0], (uint)c[1]));
        Check("min.s64", ["s64", "s64"], "s64", wide, c => (ulong)Math.Min(S64(c[0]), S64(c[1])));
        Check("max.u64", ["u64", "u64"], "u64", wide, c => Math.Max(c[0], c[1]));
    }

    [Test]
    public void LogicOperations()
    {
        var narrow = Cases(2, wide: false);
        var wide = Cases(2, wide: true);
        Check("and.b32", ["b32", "b32"], "b32", narrow, c => c[0] & c[1]);
        Check("or.b32", ["b32", "b32"], "b32", narrow, c => c[0] | c[1]);
        Check("xor.b32", ["b32", "b32"], "b32", narrow, c => c[0] ^ c[1]);
        Check("not.b32", ["b32"], "b32", narrow, c => ~c[0]);
        Check("and.b64", ["b64", "b64"], "b64", wide, c => c[0] & c[1]);
        Check("not.b64", ["b64"], "b64", wide, c => ~c[0]);
        Check("not.b16", ["b16"], "b16", narrow.Select(c => new[] { c[0] & 0xFFFF }).ToList(), c => ~c[0]);
    }

    /// <summary>bfe (PTX ISA §9.7.1.18), bit by bit as the ISA's pseudo-code states it.</summary>
    private static ulong BitFieldExtract(ulong a, ulong b, ulong c, int width, bool signed)
    {
        int msb = width - 1;
        int pos = (int)(b & 0xFF), len = (int)(c & 0xFF);
        bool sbit = signed && len != 0 && ((a >> Math.Min(pos + len - 1, msb)) & 1) != 0;
        ulong d = 0;
        for (int i = 0; i <= msb; i++)
        {
            bool bit = i < len && pos + i <= msb ? ((a >> (pos + i)) & 1) != 0 : sbit;
            if (bit)
            {
                d |= 1ul << i;
            }
        }

        return d;
    }

    /// <summary>bfi (PTX ISA §9.7.1.19).</summary>
    private static ulong BitFieldInsert(ulong a, ulong b, ulong c, ulong d, int width)
    {
        int msb = width - 1;
        int pos = (int)(c & 0xFF), len = (int)(d & 0xFF);
        ulong f = b;
        for (int i = 0; i < len && pos + i <= msb; i++)
        {
            ulong bit = 1ul << (pos + i);
            f = ((a >> i) & 1) != 0 ? f | bit : f & ~bit;
        }

        return f;
    }

    private static List<ulong[]> FieldCases(bool wide)
    {
        var rng = new Random(11);
        ulong[] positions = [0, 1, 7, 15, 16, 31, 32, 33, 63, 64, 255, 256, 257, 0xFFFF_FFFF];
        var cases = new List<ulong[]>();
        foreach (ulong pos in positions)
        {
            foreach (ulong len in positions)
            {
                ulong a = (ulong)rng.NextInt64() ^ ((ulong)rng.NextInt64() << 1), b = (ulong)rng.NextInt64();
                cases.Add(wide ? [a, b, pos, len] : [(uint)a, (uint)b, pos, len]);
                cases.Add(wide ? [a | 0x8000_0000_0000_0000, b, pos, len] : [(uint)a | 0x8000_0000, (uint)b, pos, len]);
            }
        }

        return cases;
    }

    [Test]
    public void BitFieldExtractAndInsertFollowTheIsaPseudoCode()
    {
        var narrow = FieldCases(wide: false);
        var wide = FieldCases(wide: true);
        var extract32 = narrow.Select(c => new[] { c[0], c[2], c[3] }).ToList();
        var extract64 = wide.Select(c => new[] { c[0], c[2], c[3] }).ToList();
        Check("bfe.u32", ["u32", "u32", "u32"], "u32", extract32, c => BitFieldExtract(c[0], c[1], c[2], 32, signed: false));
        Check("bfe.s32", ["s32", "u32", "u32"], "s32", extract32, c => BitFieldExtract(c[0], c[1], c[2], 32, signed: true));
        Check("bfe.u64", ["u64", "u32", "u32"], "u64", extract64, c => BitFieldExtract(c[0], c[1], c[2], 64, signed: false));
        Check("bfe.s64", ["s64", "u32", "u32"], "s64", extract64, c => BitFieldExtract(c[0], c[1], c[2], 64, signed: true));
        Check("bfi.b32", ["b32", "b32", "u32", "u32"], "b32", narrow, c => BitFieldInsert(c[0], c[1], c[2], c[3], 32));
        Check("bfi.b64", ["b64", "b64", "u32", "u32"], "b64", wide, c => BitFieldInsert(c[0], c[1], c[2], c[3], 64));
    }

    [Test]
    public void BytePermuteDefaultMode()
    {
        // prmt.b32 (PTX ISA §9.7.8.7): bytes 0-3 of a and 4-7 of b; each selector nibble's low 3 bits pick a byte,
        // its bit 3 replaces the byte by copies of that byte's sign bit.
        var rng = new Random(13);
        var cases = new List<ulong[]>();
        for (int i = 0; i < 400; i++)
        {
            cases.Add([(uint)rng.NextInt64(), (uint)rng.NextInt64(), (uint)rng.NextInt64()]);
        }

        cases.Add([0x8877_6655, 0x4433_2211, 0x3210]);
        cases.Add([0x8877_6655, 0x4433_2211, 0x7654]);
        cases.Add([0x8877_6655, 0x4433_2211, 0xFEDC_BA98]);
        Check("prmt.b32", ["b32", "b32", "b32"], "b32", cases, c =>
        {
            byte[] bytes = [.. BitConverter.GetBytes((uint)c[0]), .. BitConverter.GetBytes((uint)c[1])];
            uint d = 0;
            for (int i = 0; i < 4; i++)
            {
                int nibble = (int)((c[2] >> (4 * i)) & 0xF);
                byte picked = bytes[nibble & 7];
                uint value = (nibble & 8) == 0 ? picked : (picked & 0x80) != 0 ? 0xFFu : 0u;
                d |= value << (8 * i);
            }

            return d;
        });
    }

    [Test]
    public void BitCounts()
    {
        var narrow = Cases(1, wide: false);
        var wide = Cases(1, wide: true);
        static int Ones(ulong v)
        {
            int n = 0;
            for (; v != 0; v >>= 1)
            {
                n += (int)(v & 1);
            }

            return n;
        }

        static int LeadingZeros(ulong v, int width)
        {
            int n = 0;
            for (int i = width - 1; i >= 0 && ((v >> i) & 1) == 0; i--)
            {
                n++;
            }

            return n;
        }

        static ulong Reverse(ulong v, int width)
        {
            ulong r = 0;
            for (int i = 0; i < width; i++)
            {
                r |= ((v >> i) & 1) << (width - 1 - i);
            }

            return r;
        }

        Check("popc.b32", ["b32"], "u32", narrow, c => (ulong)Ones((uint)c[0]));
        Check("popc.b64", ["b64"], "u32", wide, c => (ulong)Ones(c[0]));
        Check("clz.b32", ["b32"], "u32", narrow, c => (ulong)LeadingZeros(c[0], 32));
        Check("clz.b64", ["b64"], "u32", wide, c => (ulong)LeadingZeros(c[0], 64));
        Check("brev.b32", ["b32"], "b32", narrow, c => Reverse(c[0], 32));
        Check("brev.b64", ["b64"], "b64", wide, c => Reverse(c[0], 64));
    }

    [Test]
    public void SelpAndIntegerSetp()
    {
        var narrow = Cases(2, wide: false);
        var wide = Cases(2, wide: true);
        var checks = new (string Cmp, Func<int, bool> Signed)[]
        {
            ("eq", c => c == 0), ("ne", c => c != 0), ("lt", c => c < 0), ("le", c => c <= 0), ("gt", c => c > 0), ("ge", c => c >= 0),
        };
        foreach (var (cmp, holds) in checks)
        {
            Check($"setp.{cmp}.s32", ["s32", "s32"], "pred", narrow, c => holds(S32(c[0]).CompareTo(S32(c[1]))) ? 1ul : 0ul);
            Check($"setp.{cmp}.u32", ["u32", "u32"], "pred", narrow, c => holds(((uint)c[0]).CompareTo((uint)c[1])) ? 1ul : 0ul);
            Check($"setp.{cmp}.s64", ["s64", "s64"], "pred", wide, c => holds(S64(c[0]).CompareTo(S64(c[1]))) ? 1ul : 0ul);
            Check($"setp.{cmp}.u64", ["u64", "u64"], "pred", wide, c => holds(c[0].CompareTo(c[1])) ? 1ul : 0ul);
        }

        // lo/ls/hi/hs are the unsigned spellings of lt/le/gt/ge.
        Check("setp.hi.u32", ["u32", "u32"], "pred", narrow, c => (uint)c[0] > (uint)c[1] ? 1ul : 0ul);
        Check("setp.ls.u32", ["u32", "u32"], "pred", narrow, c => (uint)c[0] <= (uint)c[1] ? 1ul : 0ul);

        var kernel = new ElementwiseKernel("setp.lt.s32 %outside, %i0, %i1; selp.b32 %o0, %i0, %i1, %outside;", ["s32", "s32"], ["s32"]);
        var result = kernel.Run(narrow.Select(c => c[0]).ToArray(), narrow.Select(c => c[1]).ToArray())[0];
        Assert.That(result, Is.EqualTo(narrow.Select(c => (ulong)(uint)Math.Min(S32(c[0]), S32(c[1]))).ToArray()), "selp picks a when the predicate is true");
    }

    [Test]
    public void SetpCombinesWithAPredicateAndWritesItsComplement()
    {
        // setp.lt.and.s32 p|q, a, b, c: p = (a < b) && c, q = !(a < b) && c (PTX ISA §9.7.6.1).
        var cases = Cases(2, wide: false, random: 100);
        string body = "setp.ne.s32 %outside, %i1, 0; setp.lt.and.s32 %o0|%o1, %i0, %i1, %outside;";
        var kernel = new ElementwiseKernel(body, ["s32", "s32"], ["pred", "pred"]);
        var result = kernel.Run(cases.Select(c => c[0]).ToArray(), cases.Select(c => c[1]).ToArray());
        Assert.That(result[0], Is.EqualTo(cases.Select(c => S32(c[0]) < S32(c[1]) && c[1] != 0 ? 1ul : 0ul).ToArray()));
        Assert.That(result[1], Is.EqualTo(cases.Select(c => S32(c[0]) >= S32(c[1]) && c[1] != 0 ? 1ul : 0ul).ToArray()));

        var negated = new ElementwiseKernel("setp.ne.s32 %outside, %i1, 0; setp.lt.or.s32 %o0, %i0, %i1, !%outside;", ["s32", "s32"], ["pred"]);
        var orResult = negated.Run(cases.Select(c => c[0]).ToArray(), cases.Select(c => c[1]).ToArray())[0];
        Assert.That(orResult, Is.EqualTo(cases.Select(c => S32(c[0]) < S32(c[1]) || c[1] == 0 ? 1ul : 0ul).ToArray()));
    }
}
