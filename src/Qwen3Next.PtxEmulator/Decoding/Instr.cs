namespace Qwen3Next.PtxEmulator.Decoding;

/// <summary>The handler an instruction runs; one per operation and operand class, chosen once at decode time.</summary>
public enum Op : ushort
{
    Mov,

    // Integer, wrapping (two's complement); I = either signedness.
    AddI32, AddI64, SubI32, SubI64, MulLoI32, MulLoI64, MulHiS32, MulHiU32, MulHiS64, MulHiU64,
    MulWideS16, MulWideU16, MulWideS32, MulWideU32,
    MadLoI32, MadLoI64, MadHiS32, MadHiU32, MadWideS32, MadWideU32,
    DivS32, DivU32, DivS64, DivU64, RemS32, RemU32, RemS64, RemU64,
    MinS32, MinU32, MinS64, MinU64, MaxS32, MaxU32, MaxS64, MaxU64,
    AbsS32, AbsS64, NegS32, NegS64,
    And, Or, Xor, Not32, Not64, NotPred,
    Shl32, Shl64, ShrU32, ShrS32, ShrU64, ShrS64,
    Bfi32, Bfi64, BfeU32, BfeS32, BfeU64, BfeS64, Prmt, Popc32, Popc64, Clz32, Clz64, Brev32, Brev64,
    Selp, SetpInt, SetpF32, SetpF64, Testp,

    // Conversions.
    CvtInt, CvtF32FromInt, CvtF64FromInt, CvtIntFromF32, CvtIntFromF64, CvtF32FromF64, CvtF64FromF32, CvtF32FromF32, CvtF64FromF64,
    CvtF32FromF16, CvtF16FromF32, CvtF32FromBf16, CvtBf16FromF32,

    /// <summary>cvt.rn.bf16x2.f32 d, a, b: a to the upper half, b to the lower (two sources, not a unary conversion).</summary>
    CvtBf16x2FromF32,

    // Float32.
    AddF32, SubF32, MulF32, FmaF32, DivRnF32, DivApproxF32, DivFullF32, NegF32, AbsF32, MinF32, MaxF32,
    RcpRnF32, RcpApproxF32, SqrtRnF32, SqrtApproxF32, RsqrtApproxF32, Ex2ApproxF32, Lg2ApproxF32, SinApproxF32,
    CosApproxF32, TanhApproxF32,

    // Float64.
    AddF64, SubF64, MulF64, FmaF64, DivRnF64, NegF64, AbsF64, MinF64, MaxF64, RcpRnF64, SqrtRnF64, RsqrtApproxF64,

    // Memory.
    Ld, St, Atom, Red, Cvta,

    // Control and warp collectives.
    Bra, Exit, BarSync, BarWarpSync, Shfl, Mma, LdMatrix, Vote, Activemask, Membar, Trap,

    // Asynchronous copies and warpgroup MMA (sm_80 cp.async, sm_90a wgmma; Interpreter.Async.cs).
    CpAsync, CpAsyncCommit, CpAsyncWait, FenceProxyAsync, Wgmma, WgmmaFence, WgmmaCommit, WgmmaWait,
}

public enum Rounding : byte
{
    /// <summary>Round to nearest even (.rn, and the default of float arithmetic).</summary>
    Nearest,

    /// <summary>Towards zero (.rz).</summary>
    Zero,

    /// <summary>Towards −∞ (.rm).</summary>
    Down,

    /// <summary>Towards +∞ (.rp).</summary>
    Up,
}

public enum CompareOp : byte
{
    Eq, Ne, Lt, Le, Gt, Ge,

    // Unordered float forms: true when either operand is NaN.
    Equ, Neu, Ltu, Leu, Gtu, Geu,

    /// <summary>Both ordered (.num) / either NaN (.nan).</summary>
    Num, Nan,
}

/// <summary>testp's property (PTX ISA §9.7.3.24).</summary>
public enum FloatClass : byte
{
    Finite, Infinite, Number, NotANumber, Normal, Subnormal,
}

public enum BoolOp : byte
{
    None, And, Or, Xor,
}

public enum MemorySpace : byte
{
    Generic, Global, Shared, Local, Param, Const,
}

public enum AtomOp : byte
{
    Add, Min, Max, Exch, Cas, And, Or, Xor, Inc, Dec,
}

public enum ShflMode : byte
{
    Up, Down, Bfly, Idx,
}

public enum VoteMode : byte
{
    All, Any, Uni, Ballot,
}

/// <summary>
/// One decoded instruction. Register operands are stored as offsets into a warp's register file
/// (<c>register index × 32</c>, lanes contiguous); immediates and symbol addresses were interned as constant
/// registers, so every operand is a register read. -1 marks an absent operand.
/// </summary>
public struct Instr
{
    public Op Op;
    public ScalarType Type;

    /// <summary>cvt source type; mma accumulator type.</summary>
    public ScalarType Type2;
    public Rounding Rnd;

    /// <summary>cvt.rni/rzi/rmi/rpi: round a float to an integral value.</summary>
    public bool RoundToInt;
    public bool Ftz;
    public bool Sat;
    public CompareOp Cmp;
    public BoolOp Combine;
    public MemorySpace Space;

    /// <summary>cvta: true for <c>cvta.to.space</c> (generic → space), false for <c>cvta.space</c>.</summary>
    public bool ToSpace;
    public bool NonCoherent;

    /// <summary>ld/st that are morally strong between CTAs (PTX ISA §8.7): <c>.volatile</c>, or <c>.relaxed</c>/<c>.acquire</c>/
    /// <c>.release</c> at <c>.gpu</c> or <c>.sys</c> scope. Like atomics, they never form a data race with each other.</summary>
    public bool Strong;
    public AtomOp Atom;
    public ShflMode Shfl;
    public FloatClass Class;
    public VoteMode Vote;

    /// <summary>Vector width of ld/st (1, 2 or 4); ldmatrix: matrices (1, 2 or 4).</summary>
    public byte Vec;

    /// <summary>bra.uni; setp/vote: the combining predicate is negated; ld: sign-extend into a 64-bit register;
    /// cvt to an integer: the destination register is 64-bit.</summary>
    public bool Uniform;
    public int D;
    public int D2;
    public int A;
    public int B;
    public int C;
    public int E;
    public int Guard;
    public bool GuardNegated;

    /// <summary>Address offset of ld/st/atom/red (cp.async: of the shared destination); cp.async.wait_group and
    /// wgmma.wait_group: the number of groups that may stay pending.</summary>
    public long Imm;

    /// <summary>cp.async: offset of the global source address (register <see cref="B"/>).</summary>
    public long Imm2;

    /// <summary>cp.async: bytes copied (4, 8 or 16); wgmma: N of m64nNk16.</summary>
    public int Size;

    /// <summary>wgmma: imm-scale-a / imm-scale-b are −1 (negate A / B).</summary>
    public bool NegateA;
    public bool NegateB;

    /// <summary>ldmatrix .trans: each 8×8 matrix is delivered transposed.</summary>
    public bool Transpose;

    /// <summary>The address register is 32-bit: [reg + imm] is computed modulo 2^32, as the hardware does for
    /// 32-bit (shared-window) addresses; nvcc relies on it when it folds offsets into the immediate.</summary>
    public bool Address32;
    public int Target;

    /// <summary>First entry of this instruction's register list in <see cref="DecodedKernel.RegisterLists"/> (vectors, mma fragments).</summary>
    public int List;
    public int Line;
}
