using Qwen3Next.PtxEmulator.Parsing;

namespace Qwen3Next.PtxEmulator.Decoding;

/// <summary>Per-opcode decoding: modifiers to handler and flags, operands to registers (PTX ISA §9.7).</summary>
internal sealed partial class KernelDecoder
{
    private Instr DecodeInstruction(PtxInstructionSyntax s)
    {
        var m = new ModifierSet(s.Modifiers);
        var ins = new Instr { Guard = -1, D = -1, D2 = -1, A = -1, B = -1, C = -1, E = -1, Target = -1, Vec = 1, List = -1 };
        if (s.Guard is not null)
        {
            var (g, _) = Predicate(new PtxOperand(PtxOperandKind.Register, s.Guard));
            ins.Guard = g;
            ins.GuardNegated = s.GuardNegated;
        }

        switch (s.Opcode)
        {
            case "mov": Mov(ref ins, m, s.Operands); break;
            case "add": case "sub": AddSub(ref ins, m, s.Opcode, s.Operands); break;
            case "mul": Mul(ref ins, m, s.Operands); break;
            case "mad": case "fma": Mad(ref ins, m, s.Opcode, s.Operands); break;
            case "div": Div(ref ins, m, s.Operands); break;
            case "rem": Rem(ref ins, m, s.Operands); break;
            case "min": case "max": MinMax(ref ins, m, s.Opcode, s.Operands); break;
            case "abs": case "neg": AbsNeg(ref ins, m, s.Opcode, s.Operands); break;
            case "and": case "or": case "xor": case "not": Logic(ref ins, m, s.Opcode, s.Operands); break;
            case "shl": case "shr": Shift(ref ins, m, s.Opcode, s.Operands); break;
            case "bfi": Bfi(ref ins, m, s.Operands); break;
            case "bfe": Bfe(ref ins, m, s.Operands); break;
            case "prmt": Prmt(ref ins, m, s.Operands); break;
            case "popc": case "clz": case "brev": BitCount(ref ins, m, s.Opcode, s.Operands); break;
            case "selp": Selp(ref ins, m, s.Operands); break;
            case "setp": Setp(ref ins, m, s.Operands); break;
            case "testp": Testp(ref ins, m, s.Operands); break;
            case "cvt": Cvt(ref ins, m, s.Operands); break;
            case "rcp":
            case "sqrt":
            case "rsqrt":
            case "ex2":
            case "lg2":
            case "sin":
            case "cos":
            case "tanh":
                Special(ref ins, m, s.Opcode, s.Operands);
                break;
            case "ld": case "ldu": Load(ref ins, m, s.Operands); break;
            case "st": Store(ref ins, m, s.Operands); break;
            case "atom": case "red": Atomic(ref ins, m, s.Opcode, s.Operands); break;
            case "cvta": Cvta(ref ins, m, s.Operands); break;
            case "bra": Branch(ref ins, m, s.Operands); break;
            case "ret":
            case "exit":
                Count(s.Operands, 0);
                m.Take("uni");
                ins.Op = Op.Exit;
                break;
            case "bar": case "barrier": Barrier(ref ins, m, s.Operands); break;
            case "shfl": Shuffle(ref ins, m, s.Operands); break;
            case "mma": Mma(ref ins, m, s.Operands); break;
            case "ldmatrix": LdMatrix(ref ins, m, s.Operands); break;
            case "vote": VoteOp(ref ins, m, s.Operands); break;
            case "activemask":
                Count(s.Operands, 1);
                m.Take("b32");
                ins.Op = Op.Activemask;
                ins.D = Dst(s.Operands[0]);
                break;
            case "membar":
            case "fence":
                if (m.Take("proxy"))
                {
                    ProxyFence(ref ins, m, s.Operands);
                    break;
                }

                m.TakeAny("cta", "gl", "sys", "gpu");
                m.TakeAny("sc", "acq_rel");
                ins.Op = Op.Membar;
                break;
            case "cp": CpAsync(ref ins, m, s.Operands); break;
            case "wgmma": Wgmma(ref ins, m, s.Operands); break;
            case "trap":
                ins.Op = Op.Trap;
                break;
            default:
                throw Unsupported($"instruction {s.Opcode}");
        }

        if (m.Left.Count > 0)
        {
            throw Unsupported($"modifier .{m.Left[0]} of {s.Opcode}");
        }

        return ins;
    }

    private void Count(IReadOnlyList<PtxOperand> ops, int n)
    {
        if (ops.Count != n)
        {
            throw Unsupported($"operand count {ops.Count} (expected {n})");
        }
    }

    private ScalarType OneType(ModifierSet m)
    {
        var types = m.TakeTypes();
        return types.Count == 1 ? types[0] : throw Unsupported(types.Count == 0 ? "instruction without a type" : "instruction with several types");
    }

    private static Rounding? TakeRounding(ModifierSet m) => m.TakeAny("rn", "rz", "rm", "rp") switch
    {
        "rn" => Rounding.Nearest,
        "rz" => Rounding.Zero,
        "rm" => Rounding.Down,
        "rp" => Rounding.Up,
        _ => null,
    };

    private void Binary(ref Instr ins, IReadOnlyList<PtxOperand> ops, ScalarType t)
    {
        Count(ops, 3);
        ins.D = Dst(ops[0]);
        ins.A = Src(ops[1], t);
        ins.B = Src(ops[2], t);
    }

    private void Unary(ref Instr ins, IReadOnlyList<PtxOperand> ops, ScalarType t)
    {
        Count(ops, 2);
        ins.D = Dst(ops[0]);
        ins.A = Src(ops[1], t);
    }

    private Op Width(ScalarType t, Op op32, Op op64) => t.Bytes() switch
    {
        4 => op32,
        8 => op64,
        _ => throw Unsupported($"type .{t.ToString().ToLowerInvariant()} here (32- and 64-bit integers are supported)"),
    };

    private Op Float(ScalarType t, Op f32, Op f64) => t switch
    {
        ScalarType.F32 => f32,
        ScalarType.F64 => f64,
        _ => throw Unsupported($"type .{t.ToString().ToLowerInvariant()} here"),
    };

    private void Mov(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        var t = OneType(m);
        Count(ops, 2);
        if (ops[0].Kind == PtxOperandKind.Vector || ops[1].Kind == PtxOperandKind.Vector)
        {
            throw Unsupported("vector mov (pack/unpack)");
        }

        ins.Op = Op.Mov;
        ins.Type = t;
        ins.D = Dst(ops[0]);
        ins.A = Src(ops[1], t);
    }

    private void FloatFlags(ref Instr ins, ModifierSet m, bool roundingAllowed = true)
    {
        ins.Ftz = m.Take("ftz");
        ins.Sat = m.Take("sat");
        if (roundingAllowed)
        {
            ins.Rnd = TakeRounding(m) ?? Rounding.Nearest;
        }
    }

    /// <summary>f64 arithmetic is computed in round-to-nearest only: a directed f64 rounding is unsupported rather
    /// than silently rounded to nearest.</summary>
    private void NearestOnlyForF64(in Instr ins)
    {
        if (ins.Type == ScalarType.F64 && ins.Rnd != Rounding.Nearest)
        {
            throw Unsupported("directed rounding (.rz/.rm/.rp) of f64 arithmetic");
        }
    }

    private void AddSub(ref Instr ins, ModifierSet m, string opcode, IReadOnlyList<PtxOperand> ops)
    {
        var t = OneType(m);
        ins.Type = t;
        bool add = opcode == "add";
        if (t.IsFloat())
        {
            FloatFlags(ref ins, m);
            ins.Op = add ? Float(t, Op.AddF32, Op.AddF64) : Float(t, Op.SubF32, Op.SubF64);
            NearestOnlyForF64(in ins);
        }
        else
        {
            if (m.Take("sat"))
            {
                throw Unsupported("integer saturation (.sat)");
            }

            ins.Op = add ? Width(t, Op.AddI32, Op.AddI64) : Width(t, Op.SubI32, Op.SubI64);
        }

        Binary(ref ins, ops, t);
    }

    private void Mul(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        var t = OneType(m);
        ins.Type = t;
        if (t.IsFloat())
        {
            FloatFlags(ref ins, m);
            ins.Op = Float(t, Op.MulF32, Op.MulF64);
            NearestOnlyForF64(in ins);
        }
        else
        {
            var mode = m.TakeAny("lo", "hi", "wide") ?? throw Unsupported("integer mul without .lo/.hi/.wide");
            ins.Op = (mode, t.Bytes(), t.IsSigned()) switch
            {
                ("lo", 4, _) => Op.MulLoI32,
                ("lo", 8, _) => Op.MulLoI64,
                ("hi", 4, true) => Op.MulHiS32,
                ("hi", 4, false) => Op.MulHiU32,
                ("hi", 8, true) => Op.MulHiS64,
                ("hi", 8, false) => Op.MulHiU64,
                ("wide", 2, true) => Op.MulWideS16,
                ("wide", 2, false) => Op.MulWideU16,
                ("wide", 4, true) => Op.MulWideS32,
                ("wide", 4, false) => Op.MulWideU32,
                _ => throw Unsupported($"mul.{mode} on this type"),
            };
        }

        Binary(ref ins, ops, t);
    }

    private void Mad(ref Instr ins, ModifierSet m, string opcode, IReadOnlyList<PtxOperand> ops)
    {
        var t = OneType(m);
        ins.Type = t;
        Count(ops, 4);
        if (t.IsFloat())
        {
            // mad.f32 with a rounding modifier is fma (PTX ISA §9.7.3.5); plain mad.f32 is not emitted for sm_20+.
            FloatFlags(ref ins, m, roundingAllowed: false);
            ins.Rnd = TakeRounding(m) ?? throw Unsupported($"{opcode} without a rounding modifier");
            ins.Op = Float(t, Op.FmaF32, Op.FmaF64);
            NearestOnlyForF64(in ins);
        }
        else
        {
            if (opcode == "fma")
            {
                throw Unsupported("integer fma");
            }

            var mode = m.TakeAny("lo", "hi", "wide") ?? throw Unsupported("integer mad without .lo/.hi/.wide");
            ins.Op = (mode, t.Bytes(), t.IsSigned()) switch
            {
                ("lo", 4, _) => Op.MadLoI32,
                ("lo", 8, _) => Op.MadLoI64,
                ("hi", 4, true) => Op.MadHiS32,
                ("hi", 4, false) => Op.MadHiU32,
                ("wide", 4, true) => Op.MadWideS32,
                ("wide", 4, false) => Op.MadWideU32,
                _ => throw Unsupported($"mad.{mode} on this type"),
            };
        }

        var ct = ins.Op is Op.MadWideS32 or Op.MadWideU32 ? (t.IsSigned() ? ScalarType.S64 : ScalarType.U64) : t;
        ins.D = Dst(ops[0]);
        ins.A = Src(ops[1], t);
        ins.B = Src(ops[2], t);
        ins.C = Src(ops[3], ct);
    }

    private void Div(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        var t = OneType(m);
        ins.Type = t;
        if (t == ScalarType.F32)
        {
            ins.Ftz = m.Take("ftz");
            if (m.Take("approx"))
            {
                ins.Op = Op.DivApproxF32;
            }
            else if (m.Take("full"))
            {
                ins.Op = Op.DivFullF32;
            }
            else
            {
                ins.Rnd = TakeRounding(m) ?? throw Unsupported("div.f32 without .approx, .full or a rounding modifier");
                ins.Op = Op.DivRnF32;
            }
        }
        else if (t == ScalarType.F64)
        {
            ins.Rnd = TakeRounding(m) ?? throw Unsupported("div.f64 without a rounding modifier");
            ins.Op = Op.DivRnF64;
            NearestOnlyForF64(in ins);
        }
        else
        {
            ins.Op = (t.Bytes(), t.IsSigned()) switch
            {
                (4, true) => Op.DivS32,
                (4, false) => Op.DivU32,
                (8, true) => Op.DivS64,
                (8, false) => Op.DivU64,
                _ => throw Unsupported("div on this type"),
            };
        }

        Binary(ref ins, ops, t);
    }

    private void Rem(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        var t = OneType(m);
        ins.Type = t;
        ins.Op = (t.Bytes(), t.IsSigned()) switch
        {
            (4, true) => Op.RemS32,
            (4, false) => Op.RemU32,
            (8, true) => Op.RemS64,
            (8, false) => Op.RemU64,
            _ => throw Unsupported("rem on this type"),
        };
        Binary(ref ins, ops, t);
    }

    private void MinMax(ref Instr ins, ModifierSet m, string opcode, IReadOnlyList<PtxOperand> ops)
    {
        var t = OneType(m);
        ins.Type = t;
        bool min = opcode == "min";
        if (t.IsFloat())
        {
            ins.Ftz = m.Take("ftz");
            ins.Op = min ? Float(t, Op.MinF32, Op.MinF64) : Float(t, Op.MaxF32, Op.MaxF64);
        }
        else
        {
            ins.Op = (t.Bytes(), t.IsSigned(), min) switch
            {
                (4, true, true) => Op.MinS32,
                (4, false, true) => Op.MinU32,
                (8, true, true) => Op.MinS64,
                (8, false, true) => Op.MinU64,
                (4, true, false) => Op.MaxS32,
                (4, false, false) => Op.MaxU32,
                (8, true, false) => Op.MaxS64,
                (8, false, false) => Op.MaxU64,
                _ => throw Unsupported($"{opcode} on this type"),
            };
        }

        Binary(ref ins, ops, t);
    }

    private void AbsNeg(ref Instr ins, ModifierSet m, string opcode, IReadOnlyList<PtxOperand> ops)
    {
        var t = OneType(m);
        ins.Type = t;
        bool abs = opcode == "abs";
        if (t.IsFloat())
        {
            ins.Ftz = m.Take("ftz");
            ins.Op = abs ? Float(t, Op.AbsF32, Op.AbsF64) : Float(t, Op.NegF32, Op.NegF64);
        }
        else
        {
            ins.Op = abs ? Width(t, Op.AbsS32, Op.AbsS64) : Width(t, Op.NegS32, Op.NegS64);
        }

        Unary(ref ins, ops, t);
    }

    private void Logic(ref Instr ins, ModifierSet m, string opcode, IReadOnlyList<PtxOperand> ops)
    {
        var t = OneType(m);
        ins.Type = t;
        if (opcode == "not")
        {
            ins.Op = t == ScalarType.Pred ? Op.NotPred : t.Bytes() == 8 ? Op.Not64 : t.Bytes() is 4 or 2 or 1 ? Op.Not32 : throw Unsupported("not on this type");
            Unary(ref ins, ops, t);
            return;
        }

        ins.Op = opcode switch { "and" => Op.And, "or" => Op.Or, _ => Op.Xor };
        if (t != ScalarType.Pred)
        {
            Binary(ref ins, ops, t);
            return;
        }

        // Predicate operands may be negated (!%p): fold the negation into a separate register read.
        Count(ops, 3);
        var (a, na) = Predicate(ops[1]);
        var (b, nb) = Predicate(ops[2]);
        if (na || nb)
        {
            throw Unsupported("negated predicate operand of a logic instruction");
        }

        ins.D = Dst(ops[0]);
        ins.A = a;
        ins.B = b;
    }

    private void Shift(ref Instr ins, ModifierSet m, string opcode, IReadOnlyList<PtxOperand> ops)
    {
        var t = OneType(m);
        ins.Type = t;
        ins.Op = (opcode, t.Bytes(), t.IsSigned()) switch
        {
            ("shl", 4, _) => Op.Shl32,
            ("shl", 8, _) => Op.Shl64,
            ("shr", 4, false) => Op.ShrU32,
            ("shr", 4, true) => Op.ShrS32,
            ("shr", 8, false) => Op.ShrU64,
            ("shr", 8, true) => Op.ShrS64,
            _ => throw Unsupported($"{opcode} on this type"),
        };
        Count(ops, 3);
        ins.D = Dst(ops[0]);
        ins.A = Src(ops[1], t);
        ins.B = Src(ops[2], ScalarType.U32);
    }

    private void Bfi(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        var t = OneType(m);
        ins.Type = t;
        ins.Op = Width(t, Op.Bfi32, Op.Bfi64);
        Count(ops, 5);
        ins.D = Dst(ops[0]);
        ins.A = Src(ops[1], t);
        ins.B = Src(ops[2], t);
        ins.C = Src(ops[3], ScalarType.U32);
        ins.E = Src(ops[4], ScalarType.U32);
    }

    private void Bfe(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        var t = OneType(m);
        ins.Type = t;
        ins.Op = (t.Bytes(), t.IsSigned()) switch
        {
            (4, false) => Op.BfeU32,
            (4, true) => Op.BfeS32,
            (8, false) => Op.BfeU64,
            (8, true) => Op.BfeS64,
            _ => throw Unsupported("bfe on this type"),
        };
        Count(ops, 4);
        ins.D = Dst(ops[0]);
        ins.A = Src(ops[1], t);
        ins.B = Src(ops[2], ScalarType.U32);
        ins.C = Src(ops[3], ScalarType.U32);
    }

    private void Prmt(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        var t = OneType(m);
        if (t != ScalarType.B32 || m.Left.Count > 0)
        {
            throw Unsupported("prmt mode (only the default .b32 form is supported)");
        }

        ins.Op = Op.Prmt;
        ins.Type = t;
        Count(ops, 4);
        ins.D = Dst(ops[0]);
        ins.A = Src(ops[1], t);
        ins.B = Src(ops[2], t);
        ins.C = Src(ops[3], t);
    }

    private void BitCount(ref Instr ins, ModifierSet m, string opcode, IReadOnlyList<PtxOperand> ops)
    {
        var t = OneType(m);
        ins.Type = t;
        ins.Op = opcode switch
        {
            "popc" => Width(t, Op.Popc32, Op.Popc64),
            "clz" => Width(t, Op.Clz32, Op.Clz64),
            _ => Width(t, Op.Brev32, Op.Brev64),
        };
        Unary(ref ins, ops, t);
    }

    private void Selp(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        var t = OneType(m);
        ins.Type = t;
        ins.Op = Op.Selp;
        Count(ops, 4);
        ins.D = Dst(ops[0]);
        ins.A = Src(ops[1], t);
        ins.B = Src(ops[2], t);
        var (c, neg) = Predicate(ops[3]);
        if (neg)
        {
            throw Unsupported("negated selp predicate");
        }

        ins.C = c;
    }

    private static CompareOp? CompareOf(string? s) => s switch
    {
        "eq" => CompareOp.Eq,
        "ne" => CompareOp.Ne,
        "lt" or "lo" => CompareOp.Lt,
        "le" or "ls" => CompareOp.Le,
        "gt" or "hi" => CompareOp.Gt,
        "ge" or "hs" => CompareOp.Ge,
        "equ" => CompareOp.Equ,
        "neu" => CompareOp.Neu,
        "ltu" => CompareOp.Ltu,
        "leu" => CompareOp.Leu,
        "gtu" => CompareOp.Gtu,
        "geu" => CompareOp.Geu,
        "num" => CompareOp.Num,
        "nan" => CompareOp.Nan,
        _ => null,
    };

    private void Setp(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        var cmp = CompareOf(m.TakeAny("eq", "ne", "lt", "le", "gt", "ge", "lo", "ls", "hi", "hs", "equ", "neu", "ltu", "leu", "gtu", "geu", "num", "nan"))
            ?? throw Unsupported("setp without a comparison");
        ins.Combine = m.TakeAny("and", "or", "xor") switch { "and" => BoolOp.And, "or" => BoolOp.Or, "xor" => BoolOp.Xor, _ => BoolOp.None };
        ins.Ftz = m.Take("ftz");
        var t = OneType(m);
        ins.Type = t;
        ins.Cmp = cmp;
        if (!t.IsFloat() && cmp >= CompareOp.Equ)
        {
            throw Unsupported("unordered comparison on integers");
        }

        ins.Op = t switch
        {
            ScalarType.F32 => Op.SetpF32,
            ScalarType.F64 => Op.SetpF64,
            _ when t.Bytes() is 4 or 8 || t == ScalarType.B16 || t == ScalarType.U16 || t == ScalarType.S16 => Op.SetpInt,
            _ => throw Unsupported("setp on this type"),
        };
        Count(ops, ins.Combine == BoolOp.None ? 3 : 4);
        if (ops[0].Kind == PtxOperandKind.Pair)
        {
            ins.D = Dst(ops[0].Elements![0]);
            ins.D2 = Dst(ops[0].Elements![1]);
        }
        else
        {
            ins.D = Dst(ops[0]);
        }

        ins.A = Src(ops[1], t);
        ins.B = Src(ops[2], t);
        if (ins.Combine != BoolOp.None)
        {
            var (c, neg) = Predicate(ops[3]);
            ins.C = c;
            ins.Uniform = neg; // reused: the combining predicate is negated
        }
    }

    private void Testp(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        ins.Class = m.TakeAny("finite", "infinite", "number", "notanumber", "normal", "subnormal") switch
        {
            "finite" => FloatClass.Finite,
            "infinite" => FloatClass.Infinite,
            "number" => FloatClass.Number,
            "notanumber" => FloatClass.NotANumber,
            "normal" => FloatClass.Normal,
            "subnormal" => FloatClass.Subnormal,
            _ => throw Unsupported("testp without a property"),
        };
        var t = OneType(m);
        if (t is not (ScalarType.F32 or ScalarType.F64))
        {
            throw Unsupported("testp type");
        }

        ins.Op = Op.Testp;
        ins.Type = t;
        Unary(ref ins, ops, t);
    }

    private void Cvt(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        string? rnd = m.TakeAny("rn", "rz", "rm", "rp", "rni", "rzi", "rmi", "rpi");
        ins.Ftz = m.Take("ftz");
        ins.Sat = m.Take("sat");
        if (m.Take("bf16x2"))
        {
            PackedBf16(ref ins, m, rnd, ops);
            return;
        }

        var types = m.TakeTypes();
        if (types.Count != 2)
        {
            throw Unsupported("cvt without a destination and a source type");
        }

        var (dt, st) = (types[0], types[1]);
        ins.Type = dt;
        ins.Type2 = st;
        ins.RoundToInt = rnd is "rni" or "rzi" or "rmi" or "rpi";
        ins.Rnd = rnd switch
        {
            "rz" or "rzi" => Rounding.Zero,
            "rm" or "rmi" => Rounding.Down,
            "rp" or "rpi" => Rounding.Up,
            _ => Rounding.Nearest,
        };
        bool dFloat = dt.IsFloat(), sFloat = st.IsFloat();
        ins.Op = (dt, st) switch
        {
            _ when !dFloat && !sFloat => Op.CvtInt,
            (ScalarType.F32, _) when !sFloat => Op.CvtF32FromInt,
            (ScalarType.F64, _) when !sFloat => Op.CvtF64FromInt,
            (_, ScalarType.F32) when !dFloat => Op.CvtIntFromF32,
            (_, ScalarType.F64) when !dFloat => Op.CvtIntFromF64,
            (ScalarType.F32, ScalarType.F64) => Op.CvtF32FromF64,
            (ScalarType.F64, ScalarType.F32) => Op.CvtF64FromF32,
            (ScalarType.F32, ScalarType.F32) => Op.CvtF32FromF32,
            (ScalarType.F64, ScalarType.F64) => Op.CvtF64FromF64,
            (ScalarType.F32, ScalarType.F16) => Op.CvtF32FromF16,
            (ScalarType.F16, ScalarType.F32) => Op.CvtF16FromF32,
            (ScalarType.F32, ScalarType.BF16) => Op.CvtF32FromBf16,
            (ScalarType.BF16, ScalarType.F32) => Op.CvtBf16FromF32,
            _ => throw Unsupported($"cvt.{dt}.{st}".ToLowerInvariant()),
        };

        // PTX requires an explicit rounding for float→int, int→float that can round, and narrowing float→float.
        bool needsRounding = (dFloat && !sFloat) || (!dFloat && sFloat) || ins.Op is Op.CvtF32FromF64 or Op.CvtF16FromF32 or Op.CvtBf16FromF32;
        if (rnd is null && needsRounding && !(dt == ScalarType.F64 && st.Bytes() <= 4))
        {
            throw Unsupported("cvt without the rounding modifier PTX requires");
        }

        if (ins.Op == Op.CvtInt && (rnd is not null || ins.Ftz))
        {
            throw Unsupported("rounding or .ftz on an integer conversion");
        }

        if (ins.Op == Op.CvtF16FromF32 && ins.Rnd != Rounding.Nearest)
        {
            throw Unsupported("directed rounding (.rz/.rm/.rp) of a conversion to .f16");
        }

        Unary(ref ins, ops, st);

        // A signed integer result narrower than its register is sign-extended to the register's width (PTX ISA
        // §6.4.2, relaxed type-checking of destination operands).
        ins.Uniform = dt.IsInteger() && IsWide(ins.D);
    }

    private void Special(ref Instr ins, ModifierSet m, string opcode, IReadOnlyList<PtxOperand> ops)
    {
        bool approx = m.Take("approx");
        ins.Ftz = m.Take("ftz");
        var rounding = TakeRounding(m);
        var t = OneType(m);
        ins.Type = t;
        ins.Rnd = rounding ?? Rounding.Nearest;
        ins.Op = (opcode, t, approx, rounding is not null) switch
        {
            ("rcp", ScalarType.F32, true, false) => Op.RcpApproxF32,
            ("rcp", ScalarType.F32, false, true) => Op.RcpRnF32,
            ("rcp", ScalarType.F64, false, true) => Op.RcpRnF64,
            ("sqrt", ScalarType.F32, true, false) => Op.SqrtApproxF32,
            ("sqrt", ScalarType.F32, false, true) => Op.SqrtRnF32,
            ("sqrt", ScalarType.F64, false, true) => Op.SqrtRnF64,
            ("rsqrt", ScalarType.F32, true, false) => Op.RsqrtApproxF32,
            ("rsqrt", ScalarType.F64, true, false) => Op.RsqrtApproxF64,
            ("ex2", ScalarType.F32, true, false) => Op.Ex2ApproxF32,
            ("lg2", ScalarType.F32, true, false) => Op.Lg2ApproxF32,
            ("sin", ScalarType.F32, true, false) => Op.SinApproxF32,
            ("cos", ScalarType.F32, true, false) => Op.CosApproxF32,
            ("tanh", ScalarType.F32, true, false) => Op.TanhApproxF32,
            _ => throw Unsupported($"{opcode} form"),
        };
        NearestOnlyForF64(in ins);
        Unary(ref ins, ops, t);
    }

    private MemorySpace TakeSpace(ModifierSet m) => m.TakeAny("global", "shared", "local", "param", "const") switch
    {
        "global" => MemorySpace.Global,
        "shared" => MemorySpace.Shared,
        "local" => MemorySpace.Local,
        "param" => MemorySpace.Param,
        "const" => MemorySpace.Const,
        _ => MemorySpace.Generic,
    };

    private void MemoryQualifiers(ref Instr ins, ModifierSet m)
    {
        // Cache operators and memory-consistency qualifiers change caching and ordering, not the value a single
        // thread observes in this sequentially consistent emulation. Only the sanitizer cares: a volatile access, or a
        // relaxed/acquire/release one at gpu or sys scope, is morally strong towards other CTAs (PTX ISA §8.7).
        bool isVolatile = false, ordered = false, wideScope = false;
        while (m.TakeAny("ca", "cg", "cs", "lu", "cv", "wb", "wt", "volatile", "weak", "relaxed", "acquire", "release",
            "cta", "gpu", "sys") is { } q)
        {
            isVolatile |= q == "volatile";
            ordered |= q is "relaxed" or "acquire" or "release";
            wideScope |= q is "gpu" or "sys";
        }

        ins.Strong = isVolatile || (ordered && wideScope);

        ins.NonCoherent = m.Take("nc");
        var vec = m.TakeAny("v2", "v4");
        ins.Vec = (byte)(vec is null ? 1 : vec[1] - '0');
    }

    /// <summary>[base+offset]: a register base (ins.A) or a symbol (folded into ins.Imm with ins.A = constant 0).</summary>
    private void Address(ref Instr ins, PtxOperand op, MemorySpace space)
    {
        if (op.Kind != PtxOperandKind.Address)
        {
            throw Unsupported($"address operand '{op}'");
        }

        if (op.Name.Length == 0)
        {
            ins.A = Constant(0);
            ins.Imm = op.Offset;
        }
        else if (op.IsRegisterBase)
        {
            ins.A = Src(new PtxOperand(PtxOperandKind.Register, op.Name), ScalarType.U64);
            ins.Imm = op.Offset;
            ins.Address32 = registers.ContainsKey(op.Name) && !IsWide(ins.A);
        }
        else
        {
            ulong address = SymbolAddress(op.Name, out var symbolSpace);
            if (space != symbolSpace && !(space == MemorySpace.Generic && symbolSpace == MemorySpace.Global))
            {
                throw Unsupported($"access to the {symbolSpace} symbol {op.Name} as {space}");
            }

            ins.A = Constant(0);
            ins.Imm = (long)address + op.Offset;
        }
    }

    private void Load(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        ins.Op = Op.Ld;
        ins.Space = TakeSpace(m);
        MemoryQualifiers(ref ins, m);
        var t = OneType(m);
        ins.Type = t;
        Count(ops, 2);
        ins.List = List(ops[0], t, destination: true, ins.Vec);
        ins.D = registerLists[ins.List];

        // A signed sub-64-bit load into a 64-bit register sign-extends to the register's width (PTX ISA §9.7.9.8).
        ins.Uniform = t.IsSigned() && t.Bytes() < 8 && IsWide(ins.D);
        Address(ref ins, ops[1], ins.Space);
        if (ins.NonCoherent && ins.Space != MemorySpace.Global)
        {
            throw Unsupported(".nc outside the global space");
        }
    }

    private void Store(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        ins.Op = Op.St;
        ins.Space = TakeSpace(m);
        MemoryQualifiers(ref ins, m);
        var t = OneType(m);
        ins.Type = t;
        Count(ops, 2);
        if (ins.Space is MemorySpace.Param or MemorySpace.Const)
        {
            throw Unsupported($"store to the {ins.Space} space");
        }

        Address(ref ins, ops[0], ins.Space);
        ins.List = List(ops[1], t, destination: false, ins.Vec);
    }

    private void Atomic(ref Instr ins, ModifierSet m, string opcode, IReadOnlyList<PtxOperand> ops)
    {
        ins.Op = opcode == "atom" ? Op.Atom : Op.Red;
        ins.Space = TakeSpace(m);
        while (m.TakeAny("relaxed", "acquire", "release", "acq_rel", "cta", "gpu", "sys") is not null)
        {
        }

        ins.Atom = m.TakeAny("add", "min", "max", "exch", "cas", "and", "or", "xor", "inc", "dec") switch
        {
            "add" => AtomOp.Add,
            "min" => AtomOp.Min,
            "max" => AtomOp.Max,
            "exch" => AtomOp.Exch,
            "cas" => AtomOp.Cas,
            "and" => AtomOp.And,
            "or" => AtomOp.Or,
            "xor" => AtomOp.Xor,
            "inc" => AtomOp.Inc,
            "dec" => AtomOp.Dec,
            _ => throw Unsupported($"{opcode} without an operation"),
        };
        var t = OneType(m);
        ins.Type = t;
        if (t.Bytes() is not (4 or 8) || (t.IsFloat() && ins.Atom != AtomOp.Add && ins.Atom != AtomOp.Exch))
        {
            throw Unsupported($"{opcode}.{ins.Atom} on this type".ToLowerInvariant());
        }

        int expected = (ins.Op == Op.Atom ? 3 : 2) + (ins.Atom == AtomOp.Cas ? 1 : 0);
        Count(ops, expected);
        int k = 0;
        if (ins.Op == Op.Atom)
        {
            ins.D = Dst(ops[k++]);
        }

        Address(ref ins, ops[k++], ins.Space);
        ins.B = Src(ops[k++], t);
        if (ins.Atom == AtomOp.Cas)
        {
            ins.C = Src(ops[k], t);
        }
    }

    private void Cvta(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        ins.Op = Op.Cvta;
        ins.ToSpace = m.Take("to");
        ins.Space = TakeSpace(m);
        var t = OneType(m);
        if (t.Bytes() != 8 || ins.Space is MemorySpace.Generic or MemorySpace.Param)
        {
            throw Unsupported("cvta form (64-bit global/shared/local/const are supported)");
        }

        ins.Type = t;
        Unary(ref ins, ops, t);
    }

    private void Branch(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        ins.Op = Op.Bra;
        ins.Uniform = m.Take("uni");
        Count(ops, 1);
        if (ops[0].Kind != PtxOperandKind.Symbol || !labels.TryGetValue(ops[0].Name, out int target))
        {
            throw Unsupported($"branch target '{ops[0]}'");
        }

        ins.Target = target;
    }

    private void Barrier(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        if (m.Take("warp"))
        {
            if (!m.Take("sync"))
            {
                throw Unsupported("bar.warp without .sync");
            }

            ins.Op = Op.BarWarpSync;
            Count(ops, 1);
            ins.A = Src(ops[0], ScalarType.B32);
            return;
        }

        m.Take("cta");
        if (!m.Take("sync"))
        {
            throw Unsupported("barrier form (bar.sync / barrier.sync are supported; arrive and red are not)");
        }

        m.Take("aligned");
        ins.Op = Op.BarSync;
        if (ops.Count is < 1 or > 2)
        {
            throw Unsupported("barrier operands");
        }

        ins.A = Src(ops[0], ScalarType.U32);
        if (ops.Count == 2)
        {
            throw Unsupported("barrier with a thread count");
        }
    }

    private void Shuffle(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        if (!m.Take("sync"))
        {
            throw Unsupported("shfl without .sync (removed for sm_70+)");
        }

        ins.Op = Op.Shfl;
        ins.Shfl = m.TakeAny("up", "down", "bfly", "idx") switch
        {
            "up" => ShflMode.Up,
            "down" => ShflMode.Down,
            "bfly" => ShflMode.Bfly,
            "idx" => ShflMode.Idx,
            _ => throw Unsupported("shfl mode"),
        };
        var t = OneType(m);
        if (t != ScalarType.B32)
        {
            throw Unsupported("shfl type");
        }

        Count(ops, 5);
        if (ops[0].Kind == PtxOperandKind.Pair)
        {
            ins.D = Dst(ops[0].Elements![0]);
            ins.D2 = Dst(ops[0].Elements![1]);
        }
        else
        {
            ins.D = Dst(ops[0]);
        }

        ins.A = Src(ops[1], t);
        ins.B = Src(ops[2], ScalarType.U32);
        ins.C = Src(ops[3], ScalarType.U32);
        ins.E = Src(ops[4], ScalarType.U32);
    }

    private void Mma(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        if (!m.Take("sync") || !m.Take("aligned") || !m.Take("m16n8k16") || !m.Take("row") || !m.Take("col"))
        {
            throw Unsupported("mma form (mma.sync.aligned.m16n8k16.row.col is supported)");
        }

        var types = m.TakeTypes();
        if (types.Count != 4 || types[0] != ScalarType.F32 || types[3] != ScalarType.F32 || types[1] != types[2]
            || types[1] is not (ScalarType.BF16 or ScalarType.F16))
        {
            throw Unsupported("mma types (.f32.bf16.bf16.f32 and .f32.f16.f16.f32 are supported)");
        }

        ins.Op = Op.Mma;
        ins.Type = types[1];
        ins.Type2 = ScalarType.F32;
        Count(ops, 4);
        ins.List = List(ops[0], ScalarType.F32, destination: true, 4);
        List(ops[1], ScalarType.B32, destination: false, 4);
        List(ops[2], ScalarType.B32, destination: false, 2);
        List(ops[3], ScalarType.F32, destination: false, 4);
    }

    private void VoteOp(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        if (!m.Take("sync"))
        {
            throw Unsupported("vote without .sync");
        }

        ins.Op = Op.Vote;
        ins.Vote = m.TakeAny("all", "any", "uni", "ballot") switch
        {
            "all" => VoteMode.All,
            "any" => VoteMode.Any,
            "uni" => VoteMode.Uni,
            "ballot" => VoteMode.Ballot,
            _ => throw Unsupported("vote mode"),
        };
        ins.Type = OneType(m);
        Count(ops, 3);
        ins.D = Dst(ops[0]);
        var (a, neg) = Predicate(ops[1]);
        ins.A = a;
        ins.Uniform = neg;
        ins.B = Src(ops[2], ScalarType.B32);
    }
}
