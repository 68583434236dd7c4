using Qwen3Next.PtxEmulator.Decoding;

namespace Qwen3Next.PtxEmulator.Model;

/// <summary>The SM execution pipe a PTX instruction occupies (its throughput is in <see cref="H200Spec"/>).</summary>
public enum Pipe
{
    /// <summary>PTX moves and address-space conversions ptxas folds into register allocation and addressing: not
    /// issued in SASS, so they count towards no bound.</summary>
    Folded,

    /// <summary>Branches, exits, barriers, fences: issue slots only.</summary>
    Control,

    Fp32,
    Fp64,

    /// <summary>Integer, logic, compare, select, bf16/f16 packing (the 64-lane ALU).</summary>
    Int,

    /// <summary>Special functions (MUFU): approximate transcendental functions, and the reciprocal seeds the IEEE
    /// divide, reciprocal and square root sequences start from.</summary>
    Sfu,

    /// <summary>Quarter-rate conversions (float↔int, to/from 64-bit) and bit counts (popc, clz, brev).</summary>
    Conversion,

    Shuffle,

    /// <summary>Load/store unit: every ld, st, atom, red and cp.async, any state space.</summary>
    Lsu,

    Tensor,
}

/// <summary>Which <see cref="Pipe"/> each decoded <see cref="Op"/> occupies.</summary>
public static class OpPipes
{
    private static readonly Pipe[] PipeOf = Enum.GetValues<Op>().Select(Classify).ToArray();

    public static Pipe Of(Op op) => PipeOf[(int)op];

    private static Pipe Classify(Op op) => op switch
    {
        Op.Mov or Op.Cvta => Pipe.Folded,
        Op.Bra or Op.Exit or Op.BarSync or Op.BarWarpSync or Op.Membar or Op.Trap or Op.CpAsyncCommit or Op.CpAsyncWait
            or Op.FenceProxyAsync or Op.WgmmaFence or Op.WgmmaCommit or Op.WgmmaWait => Pipe.Control,
        Op.AddF32 or Op.SubF32 or Op.MulF32 or Op.FmaF32 or Op.NegF32 or Op.AbsF32 or Op.MinF32 or Op.MaxF32 => Pipe.Fp32,
        Op.AddF64 or Op.SubF64 or Op.MulF64 or Op.FmaF64 or Op.NegF64 or Op.AbsF64 or Op.MinF64 or Op.MaxF64 or Op.SetpF64 => Pipe.Fp64,
        Op.DivRnF32 or Op.DivApproxF32 or Op.DivFullF32 or Op.RcpRnF32 or Op.RcpApproxF32 or Op.SqrtRnF32 or Op.SqrtApproxF32
            or Op.RsqrtApproxF32 or Op.Ex2ApproxF32 or Op.Lg2ApproxF32 or Op.SinApproxF32 or Op.CosApproxF32 or Op.TanhApproxF32
            or Op.DivRnF64 or Op.RcpRnF64 or Op.SqrtRnF64 or Op.RsqrtApproxF64 => Pipe.Sfu,
        Op.CvtF32FromInt or Op.CvtF64FromInt or Op.CvtIntFromF32 or Op.CvtIntFromF64 or Op.CvtF32FromF64 or Op.CvtF64FromF32
            or Op.CvtF32FromF32 or Op.CvtF64FromF64 or Op.Popc32 or Op.Popc64 or Op.Clz32 or Op.Clz64 or Op.Brev32 or Op.Brev64 => Pipe.Conversion,
        Op.Shfl => Pipe.Shuffle,
        Op.Ld or Op.St or Op.Atom or Op.Red or Op.CpAsync => Pipe.Lsu,
        Op.Mma or Op.Wgmma => Pipe.Tensor,
        _ => Pipe.Int,
    };
}
