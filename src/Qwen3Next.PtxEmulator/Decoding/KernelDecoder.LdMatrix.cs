using Qwen3Next.PtxEmulator.Parsing;

namespace Qwen3Next.PtxEmulator.Decoding;

/// <summary>
/// Decoding of <c>ldmatrix</c> (PTX ISA §9.7.13.4.15) and of the packing conversion <c>cvt.rn.bf16x2.f32</c>
/// (§9.7.9.21), which the mma.sync tensor-core kernels use (cp.async is in KernelDecoder.Async.cs).
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
}
