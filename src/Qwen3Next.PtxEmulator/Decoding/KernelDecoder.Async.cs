using Qwen3Next.PtxEmulator.Parsing;

namespace Qwen3Next.PtxEmulator.Decoding;

/// <summary>Decoding of the asynchronous instructions: cp.async and its groups (PTX ISA §9.7.9.25), the async-proxy
/// fence (§9.7.12.4) and wgmma (§9.7.15). Only the forms listed in each method are implemented.</summary>
internal sealed partial class KernelDecoder
{
    /// <summary>
    /// <c>cp.async.{ca,cg}.shared{::cta}.global{.L2::64B|128B|256B} [dst], [src], cp-size{, src-size};</c>
    /// (cg copies 16 bytes only), <c>cp.async.commit_group;</c>, <c>cp.async.wait_group N;</c>, <c>cp.async.wait_all;</c>.
    /// </summary>
    private void CpAsync(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        if (!m.Take("async"))
        {
            throw Unsupported("cp form (only cp.async is supported)");
        }

        if (m.Take("commit_group"))
        {
            Count(ops, 0);
            ins.Op = Op.CpAsyncCommit;
            return;
        }

        if (m.Take("wait_group") || m.Take("wait_all"))
        {
            bool all = ops.Count == 0;
            if (all)
            {
                // wait_all = commit_group + wait_group 0 (PTX ISA §9.7.9.25.3).
                ins.Imm = -1;
            }
            else
            {
                Count(ops, 1);
                ins.Imm = ops[0].Kind == PtxOperandKind.Integer && ops[0].Bits >= 0 ? ops[0].Bits : throw Unsupported("cp.async.wait_group count (a non-negative immediate)");
            }

            ins.Op = Op.CpAsyncWait;
            return;
        }

        if (m.TakeAny("bulk") is not null)
        {
            throw Unsupported("cp.async.bulk (TMA)");
        }

        var cache = m.TakeAny("ca", "cg") ?? throw Unsupported("cp.async without .ca or .cg");
        if (m.TakeAny("shared", "shared::cta") is null || !m.Take("global"))
        {
            throw Unsupported("cp.async state spaces (.shared{::cta}.global is supported)");
        }

        m.TakeAny("L2::64B", "L2::128B", "L2::256B");
        if (ops.Count is not (3 or 4))
        {
            throw Unsupported("cp.async operands ([dst], [src], cp-size{, src-size})");
        }

        if (ops[2].Kind != PtxOperandKind.Integer || ops[2].Bits is not (4 or 8 or 16) || (cache == "cg" && ops[2].Bits != 16))
        {
            throw Unsupported("cp.async size (4, 8 or 16 bytes with .ca; 16 with .cg)");
        }

        ins.Op = Op.CpAsync;
        ins.Space = MemorySpace.Shared;
        ins.Size = (int)ops[2].Bits;
        Address(ref ins, ops[0], MemorySpace.Shared);
        int dst = ins.A;
        long dstOffset = ins.Imm;
        bool dst32 = ins.Address32;
        Address(ref ins, ops[1], MemorySpace.Global);
        (ins.B, ins.Imm2) = (ins.A, ins.Imm);
        (ins.A, ins.Imm, ins.Address32) = (dst, dstOffset, dst32);
        ins.E = ops.Count == 4 ? Src(ops[3], ScalarType.U32) : -1;
    }

    /// <summary><c>fence.proxy.async{.shared::cta|.shared::cluster|.global}</c>: orders this thread's generic-proxy
    /// accesses before its later async-proxy ones (wgmma's shared-memory reads).</summary>
    private void ProxyFence(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        if (!m.Take("async"))
        {
            throw Unsupported("fence.proxy form (only fence.proxy.async is supported)");
        }

        m.TakeAny("shared::cta", "shared::cluster", "global");
        Count(ops, 0);
        ins.Op = Op.FenceProxyAsync;
    }

    /// <summary>
    /// <c>wgmma.fence.sync.aligned;</c>, <c>wgmma.commit_group.sync.aligned;</c>, <c>wgmma.wait_group.sync.aligned N;</c>
    /// and <c>wgmma.mma_async.sync.aligned.m64nNk16.f32.{bf16,f16}.{bf16,f16} d, a-desc, b-desc, scale-d,
    /// imm-scale-a, imm-scale-b, imm-trans-a, imm-trans-b;</c> with both operands in shared memory, K-major
    /// (imm-trans 0): every swizzle mode of the descriptor, base offset 0.
    /// </summary>
    private void Wgmma(ref Instr ins, ModifierSet m, IReadOnlyList<PtxOperand> ops)
    {
        string? kind = m.TakeAny("fence", "commit_group", "wait_group", "mma_async");
        if (kind is null || !m.Take("sync") || !m.Take("aligned"))
        {
            throw Unsupported("wgmma form (fence, commit_group, wait_group, mma_async with .sync.aligned)");
        }

        switch (kind)
        {
            case "fence":
                Count(ops, 0);
                ins.Op = Op.WgmmaFence;
                return;
            case "commit_group":
                Count(ops, 0);
                ins.Op = Op.WgmmaCommit;
                return;
            case "wait_group":
                Count(ops, 1);
                ins.Imm = ops[0].Kind == PtxOperandKind.Integer && ops[0].Bits >= 0 ? ops[0].Bits : throw Unsupported("wgmma.wait_group count (a non-negative immediate)");
                ins.Op = Op.WgmmaWait;
                return;
        }

        string? shape = m.Left.FirstOrDefault(x => x.StartsWith("m64n", StringComparison.Ordinal) && x.EndsWith("k16", StringComparison.Ordinal));
        if (shape is null || !int.TryParse(shape.AsSpan(4, shape.Length - 7), out int n) || n < 8 || n > 256 || n % 8 != 0)
        {
            throw Unsupported("wgmma shape (m64nNk16, N a multiple of 8 up to 256)");
        }

        m.Take(shape);
        var types = m.TakeTypes();
        if (types.Count != 3 || types[0] != ScalarType.F32 || types[1] != types[2] || types[1] is not (ScalarType.BF16 or ScalarType.F16))
        {
            throw Unsupported("wgmma types (.f32.bf16.bf16 and .f32.f16.f16 are supported)");
        }

        if (ops.Count != 8 || ops[1].Kind == PtxOperandKind.Vector)
        {
            throw Unsupported("wgmma operands (d, a-desc, b-desc, scale-d, imm-scale-a, imm-scale-b, imm-trans-a, imm-trans-b; A from registers is not supported)");
        }

        long Immediate(PtxOperand op, string what, params long[] allowed) => op.Kind == PtxOperandKind.Integer && allowed.Contains(op.Bits)
            ? op.Bits : throw Unsupported($"wgmma {what} '{op}' (supported: {string.Join(", ", allowed)})");

        ins.Op = Op.Wgmma;
        ins.Type = types[1];
        ins.Type2 = ScalarType.F32;
        ins.Size = n;
        ins.List = List(ops[0], ScalarType.F32, destination: true, n / 2);
        ins.A = Src(ops[1], ScalarType.B64);
        ins.B = Src(ops[2], ScalarType.B64);
        var (scale, negated) = Predicate(ops[3]);
        ins.C = scale;
        ins.GuardNegated |= false;
        ins.Uniform = negated;
        ins.NegateA = Immediate(ops[4], "imm-scale-a", 1, -1) < 0;
        ins.NegateB = Immediate(ops[5], "imm-scale-b", 1, -1) < 0;
        Immediate(ops[6], "imm-trans-a (MN-major A is not implemented)", 0);
        Immediate(ops[7], "imm-trans-b (MN-major B is not implemented)", 0);
    }
}
