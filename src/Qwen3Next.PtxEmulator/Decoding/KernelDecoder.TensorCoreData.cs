using Qwen3Next.PtxEmulator.Parsing;

namespace Qwen3Next.PtxEmulator.Decoding;

/// <summary>
/// Decoding of the data-movement instructions tensor-core kernels use: <c>ldmatrix</c> (PTX ISA §9.7.13.4.15),
/// <c>cp.async</c> with its group instructions (§9.7.9.25) and the packing conversion <c>cvt.rn.bf16x2.f32</c>
/// (§9.7.9.21).
/// </summary>
internal sealed partial class KernelDecoder
{
    /// <summary>cvt.rn{.relu}.bf16x2.f32 d, a, b: a → upper half, b → lower half (only .rn exists for bf16x2).</summary>
    private void PackedBf16(ref Instr ins, ModifierSet m, string? rnd, IReadOnlyList<PtxOperand> ops)
    {
        var types = m.TakeTypes();
        if (rnd != "rn" || types.Count != 1 || types[0] != ScalarType.F32 || ins.Sat)
        {
            throw Unsupported("cvt to .bf16x2 (cvt.rn.bf16x2.f32 is supported)");
        }

        ins.Op = Op.CvtBf16x2FromF32;
        ins.Type = ScalarType.B32;
        ins.Type2 = ScalarType.F32;
        ins.Rnd = Rounding.Nearest;
        Binary(ref ins, ops, ScalarType.F32);
    }

    /// <summary>ldmatrix.sync.aligned.m8n8{.x1,.x2,.x4}{.trans}.shared.b16 d, [a].</summary>
    private void LdMatrix(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        if (!m.Take("sync") || !m.Take("aligned") || !m.Take("m8n8") || !m.Take("b16"))
        {
            throw Unsupported("ldmatrix form (ldmatrix.sync.aligned.m8n8{.x1,.x2,.x4}{.trans}.shared.b16 is supported)");
        }

        if (m.TakeAny("shared", "shared::cta") is null)
        {
            throw Unsupported("ldmatrix without .shared");
        }

        string? count = m.TakeAny("x1", "x2", "x4");
        ins.Op = Op.LdMatrix;
        ins.Space = MemorySpace.Shared;
        ins.Type = ScalarType.B32;
        ins.Vec = (byte)(count is null ? 1 : count[1] - '0');
        ins.Transpose = m.Take("trans");
        Count(ops, 2);
        ins.List = List(ops[0], ScalarType.B32, destination: true, ins.Vec);
        ins.D = registerLists[ins.List];
        Address(ref ins, ops[1], MemorySpace.Shared);
    }

    /// <summary>
    /// cp.async.{ca,cg}.shared.global [dst], [src], cp-size{, src-size}; cp.async.commit_group;
    /// cp.async.wait_group N; cp.async.wait_all. An L2 prefetch hint (.L2::64B/128B/256B) changes no value.
    /// </summary>
    private void CpAsync(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        if (!m.Take("async"))
        {
            throw Unsupported("cp form (cp.async is supported)");
        }

        if (m.Take("commit_group"))
        {
            Count(ops, 0);
            ins.Op = Op.CpAsyncCommit;
            return;
        }

        if (m.Take("wait_group") || m.Take("wait_all"))
        {
            ins.Op = Op.CpAsyncWait;
            if (ops.Count == 0)
            {
                ins.Imm = -1;   // wait_all: every copy, committed or not
                return;
            }

            Count(ops, 1);
            if (ops[0].Kind != PtxOperandKind.Integer || ops[0].Bits < 0)
            {
                throw Unsupported("cp.async.wait_group needs a non-negative integer constant");
            }

            ins.Imm = ops[0].Bits;
            return;
        }

        string? cache = m.TakeAny("ca", "cg");
        m.TakeAny("L2::64B", "L2::128B", "L2::256B");
        if (cache is null || m.TakeAny("shared", "shared::cta") is null || !m.Take("global"))
        {
            throw Unsupported("cp.async form (cp.async.{ca,cg}.shared.global is supported)");
        }

        if (ops.Count is < 3 or > 4 || ops[2].Kind != PtxOperandKind.Integer || ops[2].Bits is not (4 or 8 or 16))
        {
            throw Unsupported("cp.async operands ([dst], [src], 4|8|16{, src-size})");
        }

        if (cache == "cg" && ops[2].Bits != 16)
        {
            throw Unsupported("cp.async.cg with a cp-size other than 16");
        }

        ins.Op = Op.CpAsync;
        ins.Space = MemorySpace.Shared;
        ins.Vec = (byte)ops[2].Bits;
        Address(ref ins, ops[0], MemorySpace.Shared);
        var source = new Instr { A = -1 };
        Address(ref source, ops[1], MemorySpace.Global);
        if (source.Address32)
        {
            throw Unsupported("cp.async with a 32-bit global source address");
        }

        ins.B = source.A;
        ins.Imm2 = source.Imm;
        if (ops.Count == 4)
        {
            ins.C = Src(ops[3], ScalarType.U32);
        }
    }
}
