using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using static Qwen3Next.Backends.Ptx.LaunchChecks;

namespace Qwen3Next.Ops.GatedDelta;

/// <summary>
/// Launchers of <c>kernels/gated_delta/*.cu</c> (ABI and launch order in <c>kernels/README.md</c>), over a packed batch
/// whose sequences keep their states in slots. Prefill or mixed batch: conv1d_prefill → conv1d_state_update →
/// qk_l2norm_gates → chunk_prepare (the batch's chunk list: chunks never cross a sequence) → chunk_state_pass (one block
/// column per sequence) → gated_rmsnorm. Decode batch (one token per sequence): gdn_decode_fused, the four steps in one
/// kernel (or, <see cref="UnfusedDecode"/>, conv1d_step → qk_l2norm_gates → recurrent → gated_rmsnorm). After the gates kernel q, k, v are
/// strided views of the conv output (row stride conv_dim); the delta rule writes o straight into y, which
/// gated_rmsnorm then normalises in place (allowed when ldo = Hv·Dv). No host synchronisation.
/// Fast precision (<see cref="TensorCoreChunks"/>): the chunked rule runs on the tensor cores instead,
/// gdn_tc_prepare → gdn_tc_state_pass → gdn_tc_output (<see cref="GatedDeltaTensorCoreKernels"/>), on the same inputs,
/// chunk tables and state slots; decode keeps its kernels.
/// </summary>
public sealed class PtxGatedDeltaOps(PtxBackend backend) : IGatedDeltaOps
{
    public const string ConvPrefill = "gdn_conv1d_prefill";
    public const string ConvStateUpdate = "gdn_conv1d_state_update";
    public const string ConvStep = "gdn_conv1d_step";
    public const string QkNormGates = "gdn_qk_l2norm_gates";
    public const string Recurrent = "gdn_recurrent";
    public const string ChunkPrepare = "gdn_chunk_prepare";
    public const string ChunkStatePass = "gdn_chunk_state_pass";
    public const string GatedRmsNorm = "gdn_gated_rmsnorm";
    public const string DecodeFused = "gdn_decode_fused";

    public const int Chunk = 64;
    public const int MaxKeyDim = 128;
    public const int MaxConvKernel = 8;
    public const int MaxGroup = 128;

    public static IReadOnlyList<string> KernelNames { get; } =
        [ConvPrefill, ConvStateUpdate, ConvStep, QkNormGates, Recurrent, ChunkPrepare, ChunkStatePass, GatedRmsNorm, DecodeFused];

    /// <summary>The fast precision's chunked-rule kernels (sm_80-class mma, in the sm_90 PTX).</summary>
    public static IReadOnlyList<string> FastKernelNames => GatedDeltaTensorCoreKernels.KernelNames;

    private readonly KernelArguments args = new();

    /// <summary>The chunked rule runs on the tensor cores: fast precision, head dims the kernels have, and the kernels embedded.</summary>
    internal bool TensorCoreChunks(GatedDeltaShape shape)
        => backend.Precision == Precision.Fast && GatedDeltaTensorCoreKernels.Supports(shape.KeyDim, shape.ValueDim)
            && GatedDeltaTensorCoreKernels.KernelNames.All(backend.Kernels.Catalog.Contains);

    /// <summary>Decode with the four kernels (conv step, gates, recurrent, gated RMSNorm) instead of
    /// <c>gdn_decode_fused</c>; kept selectable to compare the two. Shapes the fused kernel does not cover
    /// (<see cref="FusedDecodeCovers"/>) take the four kernels anyway.</summary>
    public bool UnfusedDecode { get; set; }

    /// <summary>Whether <c>gdn_decode_fused</c> serves the shape: Dk, Dv ≤ 128, r·Dv ≤ 1024, r ≤ 32, K ≤ 8.</summary>
    public static bool FusedDecodeCovers(int keyHeads, int valueHeads, int keyDim, int valueDim, int convKernel)
    {
        int r = valueHeads / keyHeads;
        return keyDim <= 128 && valueDim <= 128 && (long)r * valueDim <= 1024 && r <= 32 && convKernel <= 8;
    }

    /// <summary>gdn_decode_fused: grid (Hk, B), block 512.</summary>
    internal static LaunchConfig DecodeFusedConfig(int sequences, int keyHeads, int valueHeads, int keyDim, int valueDim, int convKernel)
    {
        CheckHeads(DecodeFused, keyHeads, valueHeads, keyDim, valueDim);
        Positive(DecodeFused, "B", sequences);
        AtMost(DecodeFused, "B", sequences, 65535);
        Require(FusedDecodeCovers(keyHeads, valueHeads, keyDim, valueDim, convKernel), DecodeFused,
            $"Dk = {keyDim}, Dv = {valueDim}, r = {valueHeads / keyHeads}, K = {convKernel} is outside Dk, Dv <= 128, r·Dv <= 1024, r <= 32, K <= 8");
        return new LaunchConfig(new LaunchDims(keyHeads, sequences), 512);
    }

    internal static void CheckHeads(string kernel, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        Positive(kernel, "Hk", keyHeads);
        Positive(kernel, "Hv", valueHeads);
        Positive(kernel, "Dk", keyDim);
        Positive(kernel, "Dv", valueDim);
        Require(valueHeads % keyHeads == 0, kernel, $"Hv = {valueHeads} is not a multiple of Hk = {keyHeads}");
        AtMost(kernel, "Hv", valueHeads, 65535);
    }

    /// <summary>conv1d_prefill: grid (ceil(conv_dim/256), min(T, 65535)), rows striding over the tokens; state_update and
    /// step: grid (ceil(conv_dim/256), B), one row per sequence.</summary>
    internal static LaunchConfig ConvConfig(string kernel, int convDim, int tokens, int convKernel, int sequences = 1)
    {
        Positive(kernel, "conv_dim", convDim);
        Positive(kernel, "K", convKernel);
        AtMost(kernel, "K", convKernel, MaxConvKernel);
        if (kernel == ConvPrefill)
        {
            Positive(kernel, "T", tokens);
            return new LaunchConfig(new LaunchDims(CeilDiv(convDim, 256), Math.Min(tokens, 65535)), 256);
        }

        Positive(kernel, "B", sequences);
        AtMost(kernel, "B", sequences, 65535);
        return new LaunchConfig(new LaunchDims(CeilDiv(convDim, 256), sequences), 256);
    }

    internal static LaunchConfig QkNormGatesConfig(int tokens, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        CheckHeads(QkNormGates, keyHeads, valueHeads, keyDim, valueDim);
        Positive(QkNormGates, "T", tokens);
        AtMost(QkNormGates, "r = Hv/Hk", valueHeads / keyHeads, MaxGroup);
        AtMost(QkNormGates, "Hk", keyHeads, 65535);
        return new LaunchConfig(new LaunchDims(tokens, keyHeads), 128);
    }

    /// <summary>Grid (ceil(Dv/32), Hv, B): one block column per sequence, running its tokens in order.</summary>
    internal static LaunchConfig RecurrentConfig(int sequences, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        CheckHeads(Recurrent, keyHeads, valueHeads, keyDim, valueDim);
        Positive(Recurrent, "B", sequences);
        AtMost(Recurrent, "B", sequences, 65535);
        AtMost(Recurrent, "Dk", keyDim, MaxKeyDim);
        return new LaunchConfig(new LaunchDims(CeilDiv(valueDim, 32), valueHeads, sequences), 128);
    }

    /// <summary>Grid (chunks, Hv); dynamic shared memory 4·(2·64·(Dm+1) + 64·65 + 192), Dm = max(Dk, Dv): 83,456 B at 128.</summary>
    internal static LaunchConfig ChunkPrepareConfig(int chunks, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        CheckHeads(ChunkPrepare, keyHeads, valueHeads, keyDim, valueDim);
        Positive(ChunkPrepare, "chunks", chunks);
        AtMost(ChunkPrepare, "Dk", keyDim, MaxKeyDim);
        int dm = Math.Max(keyDim, valueDim);
        var config = new LaunchConfig(new LaunchDims(chunks, valueHeads), 256, 4 * ((2 * Chunk * (dm + 1)) + (64 * 65) + 192));
        config.Validate(ChunkPrepare);
        return config;
    }

    /// <summary>Grid (ceil(Dv/32), Hv, B); dynamic shared memory 4·(64·Dk + 32·Dk + 64·32 + 64): 57,600 B at Dk = 128.</summary>
    internal static LaunchConfig ChunkStatePassConfig(int sequences, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        CheckHeads(ChunkStatePass, keyHeads, valueHeads, keyDim, valueDim);
        Positive(ChunkStatePass, "B", sequences);
        AtMost(ChunkStatePass, "Dk", keyDim, MaxKeyDim);
        var config = new LaunchConfig(new LaunchDims(CeilDiv(valueDim, 32), valueHeads, sequences), 256, 4 * ((64 * keyDim) + (32 * keyDim) + (64 * 32) + 64));
        config.Validate(ChunkStatePass);
        return config;
    }

    internal static LaunchConfig GatedRmsNormConfig(int tokens, int valueHeads)
    {
        Positive(GatedRmsNorm, "T", tokens);
        Positive(GatedRmsNorm, "Hv", valueHeads);
        AtMost(GatedRmsNorm, "Hv", valueHeads, 65535);
        return new LaunchConfig(new LaunchDims(tokens, valueHeads), 128);
    }

    public void Rule(GatedDeltaShape shape, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor g, DeviceTensor beta,
        DeviceTensor state, DeviceTensor o, bool l2Normalize, float scale, GatedDeltaMode mode)
    {
        using var use = OpContracts.Rule(backend.Access, shape, q, k, v, g, beta, state, o, scale);
        Rule(shape, SequenceBatch.Single(0, shape.Tokens), q, k, v, g, beta, state, o, l2Normalize, scale, mode);
    }

    public void Rule(GatedDeltaShape shape, SequenceBatch batch, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor g, DeviceTensor beta,
        DeviceTensor states, DeviceTensor o, bool l2Normalize, float scale, GatedDeltaMode mode)
    {
        using var use = OpContracts.Rule(backend.Access, shape, batch, q, k, v, g, beta, states, o, scale);
        var (t, hk, hv, dk, dv) = (shape.Tokens, shape.KeyHeads, shape.ValueHeads, shape.KeyDim, shape.ValueDim);
        var gatesConfig = QkNormGatesConfig(t, hk, hv, dk, dv);
        var ruleConfigs = RuleConfigs(shape, batch, mode);
        string rule = mode == GatedDeltaMode.Recurrent ? Recurrent : ChunkPrepare;
        long qkWidth = (long)hk * dk, vWidth = (long)hv * dv;
        Holds(rule, "q", q.Length, t * qkWidth);
        Holds(rule, "k", k.Length, t * qkWidth);
        Holds(rule, "v", v.Length, t * vWidth);
        Holds(rule, "g", g.Length, (long)t * hv);
        Holds(rule, "beta", beta.Length, (long)t * hv);
        Holds(rule, "state", states.Length, (long)hv * dk * dv);
        Holds(rule, "o", o.Length, t * vWidth);

        // The golden layout has separate q [T,Hk,Dk] and k: pack them into a conv-output shaped buffer
        // [T, conv_dim] so the gates kernel can l2-normalise and scale them in place; v is read where it is.
        // Its gate/beta outputs come from zero ba/A_log/dt_bias and are ignored: the rule takes g and beta as given.
        int convDim = (int)(2 * qkWidth + vWidth);
        var meta = backend.Batches.Of(batch);
        var packed = backend.Workspace.Get<float>("gdn.rule.qk", (long)t * convDim);
        var (qv, kv) = (PtxBackend.T(q).Span, PtxBackend.T(k).Span);
        for (int row = 0; row < t; row++)
        {
            backend.CopyOnDevice(qv.Slice(row * qkWidth, qkWidth), packed.Slice((long)row * convDim, qkWidth));
            backend.CopyOnDevice(kv.Slice(row * qkWidth, qkWidth), packed.Slice(((long)row * convDim) + qkWidth, qkWidth));
        }

        var ba = backend.Workspace.Zeros<float>("gdn.rule.ba", 2L * t * hv);
        var zeros = backend.Workspace.Zeros<float>("gdn.rule.zeros", hv);
        var unusedGate = backend.Workspace.Get<float>("gdn.gate", (long)t * hv);
        var unusedBeta = backend.Workspace.Get<float>("gdn.beta", (long)t * hv);
        backend.Launch(QkNormGates, gatesConfig, args.Clear().Add(packed).Add(unusedGate).Add(unusedBeta).Add(ba).Add(zeros).Add(zeros)
            .Add(t).Add(hk).Add(hv).Add(dk).Add(dv).Add(scale).Add(l2Normalize ? 1 : 0));
        var deltaRule = new DeltaRuleInputs(packed, 0, packed, qkWidth, convDim, PtxBackend.T(v).Span, (int)vWidth,
            PtxBackend.T(g).Span, PtxBackend.T(beta).Span, PtxBackend.T(states).Span, PtxBackend.T(o).Span, (int)vWidth);
        RunDeltaRule(shape, batch, meta, deltaRule, mode, ruleConfigs);
    }

    public void Mixer(GatedDeltaNetShape shape, int tokens, DeviceTensor qkvz, DeviceTensor ba, GatedDeltaNetWeights weights,
        LinearAttentionState state, DeviceTensor y)
    {
        using var use = OpContracts.GatedDeltaNet(backend.Access, shape, tokens, qkvz, ba, weights, state, y);
        Mixer(shape, SequenceBatch.Single(0, tokens), qkvz, ba, weights, LinearAttentionStatePool.Of(state), y);
    }

    public void Mixer(GatedDeltaNetShape shape, SequenceBatch batch, DeviceTensor qkvz, DeviceTensor ba, GatedDeltaNetWeights weights,
        LinearAttentionStatePool states, DeviceTensor y)
    {
        using var use = OpContracts.GatedDeltaNet(backend.Access, shape, batch, qkvz, ba, weights, states, y);
        var (t, hk, hv, dk, dv, kw) = (batch.TotalTokens, shape.KeyHeads, shape.ValueHeads, shape.KeyDim, shape.ValueDim, shape.ConvKernel);
        int convDim = shape.ConvDim, width = shape.ValueWidth, sequences = batch.Count;
        var rule = shape.Rule(t);
        bool decode = batch.IsDecode;
        var mode = decode ? GatedDeltaMode.Recurrent : GatedDeltaMode.Chunked;
        var gatesConfig = QkNormGatesConfig(t, hk, hv, dk, dv);
        var ruleConfigs = RuleConfigs(rule, batch, mode);
        var normConfig = GatedRmsNormConfig(t, hv);
        var stepConfig = ConvConfig(ConvStep, convDim, t, kw, sequences);
        var prefillConfig = ConvConfig(ConvPrefill, convDim, t, kw);
        var updateConfig = ConvConfig(ConvStateUpdate, convDim, t, kw, sequences);
        string first = decode ? ConvStep : ConvPrefill;
        Holds(first, "qkvz", qkvz.Length, (long)t * shape.QkvzWidth);
        Holds(QkNormGates, "ba", ba.Length, (long)t * shape.BaWidth);
        Holds(first, "conv_states", states.Conv.Length, (long)states.Slots * convDim * kw);
        Holds(first, "w", weights.Conv.Length, (long)convDim * kw);
        Holds(Recurrent, "states", states.Recurrent.Length, (long)states.Slots * hv * dk * dv);
        Holds(GatedRmsNorm, "y", y.Length, (long)t * width);
        Holds(GatedRmsNorm, "w", weights.Norm.Length, dv);

        var meta = backend.Batches.Of(batch);
        if (decode && !UnfusedDecode && FusedDecodeCovers(hk, hv, dk, dv, kw))
        {
            backend.Launch(DecodeFused, DecodeFusedConfig(sequences, hk, hv, dk, dv, kw), args.Clear().Add(PtxBackend.T(y).Span)
                .Add(PtxBackend.T(states.Conv).Span).Add(PtxBackend.T(states.Recurrent).Span).Add(PtxBackend.T(qkvz).Span).Add(PtxBackend.T(ba).Span)
                .Add(PtxBackend.W(weights.Conv).Bits).Add(PtxBackend.W(weights.ALog).Values).Add(PtxBackend.W(weights.DtBias).Values)
                .Add(PtxBackend.W(weights.Norm).Values).Add(meta.SlotIds).Add(hk).Add(hv).Add(dk).Add(dv).Add(kw).Add(1f / MathF.Sqrt(dk)).Add(shape.Eps));
            return;
        }

        var convOut = backend.Workspace.Get<float>("gdn.conv_out", (long)t * convDim);
        var gate = backend.Workspace.Get<float>("gdn.gate", (long)t * hv);
        var beta = backend.Workspace.Get<float>("gdn.beta", (long)t * hv);
        var (qkvzView, convStates, convW) = (PtxBackend.T(qkvz).Span, PtxBackend.T(states.Conv).Span, PtxBackend.W(weights.Conv).Bits);
        if (decode)
        {
            backend.Launch(ConvStep, stepConfig, args.Clear().Add(convOut).Add(convStates).Add(qkvzView).Add(convW).Add(meta.SlotIds)
                .Add(hk).Add(hv).Add(dk).Add(dv).Add(kw));
        }
        else
        {
            // conv1d_prefill reads every sequence's history from its slot, so the state update runs after it.
            backend.Launch(ConvPrefill, prefillConfig, args.Clear().Add(convOut).Add(convStates).Add(qkvzView).Add(convW).Add(meta.CuSeqlens)
                .Add(meta.SlotIds).Add(t).Add(sequences).Add(hk).Add(hv).Add(dk).Add(dv).Add(kw));
            backend.Launch(ConvStateUpdate, updateConfig, args.Clear().Add(convStates).Add(qkvzView).Add(meta.CuSeqlens).Add(meta.SlotIds)
                .Add(hk).Add(hv).Add(dk).Add(dv).Add(kw));
        }

        backend.Launch(QkNormGates, gatesConfig, args.Clear().Add(convOut).Add(gate).Add(beta).Add(PtxBackend.T(ba).Span)
            .Add(PtxBackend.W(weights.ALog).Values).Add(PtxBackend.W(weights.DtBias).Values)
            .Add(t).Add(hk).Add(hv).Add(dk).Add(dv).Add(1f / MathF.Sqrt(dk)).Add(1));
        var yView = PtxBackend.T(y).Span;
        long qkWidth = (long)hk * dk;
        RunDeltaRule(rule, batch, meta, new DeltaRuleInputs(convOut, 0, convOut, qkWidth, convDim, convOut.Slice(2 * qkWidth, convOut.Length - (2 * qkWidth)),
            convDim, gate, beta, PtxBackend.T(states.Recurrent).Span, yView, width), mode, ruleConfigs);
        backend.Launch(GatedRmsNorm, normConfig, args.Clear().Add(yView).Add(yView).Add(qkvzView).Add(PtxBackend.W(weights.Norm).Values)
            .Add(t).Add(hk).Add(hv).Add(dk).Add(dv).Add(width).Add(shape.Eps));
    }

    private LaunchConfig[] RuleConfigs(GatedDeltaShape shape, SequenceBatch batch, GatedDeltaMode mode)
    {
        var (hk, hv, dk, dv) = (shape.KeyHeads, shape.ValueHeads, shape.KeyDim, shape.ValueDim);
        if (mode == GatedDeltaMode.Recurrent)
        {
            return [RecurrentConfig(batch.Count, hk, hv, dk, dv)];
        }

        int chunks = batch.ChunkCount;
        return TensorCoreChunks(shape)
            ? [GatedDeltaTensorCoreKernels.PrepareConfig(chunks, hk, hv, dk, dv), GatedDeltaTensorCoreKernels.StatePassConfig(batch.Count, hk, hv, dk, dv),
                GatedDeltaTensorCoreKernels.OutputConfig(chunks, hk, hv, dk, dv)]
            : [ChunkPrepareConfig(chunks, hk, hv, dk, dv), ChunkStatePassConfig(batch.Count, hk, hv, dk, dv)];
    }

    /// <summary>q at <c>qBase + t·ldqk</c>, k at <c>kBase + kOffset + t·ldqk</c> (same row stride), v with ldv, o with ldo;
    /// State is the pool <c>[slots, Hv, Dk, Dv]</c>.</summary>
    private readonly record struct DeltaRuleInputs(DeviceSpan<float> QBase, long QOffset, DeviceSpan<float> KBase, long KOffset, int LdQk,
        DeviceSpan<float> V, int LdV, DeviceSpan<float> Gate, DeviceSpan<float> Beta, DeviceSpan<float> State, DeviceSpan<float> O, int LdO);

    private void RunDeltaRule(GatedDeltaShape shape, SequenceBatch batch, PtxBatchMetadata.Views meta, DeltaRuleInputs r, GatedDeltaMode mode,
        LaunchConfig[] configs)
    {
        var (hk, hv, dk, dv) = (shape.KeyHeads, shape.ValueHeads, shape.KeyDim, shape.ValueDim);
        if (mode == GatedDeltaMode.Recurrent)
        {
            backend.Launch(Recurrent, configs[0], args.Clear().Add(r.O).Add(r.State).Add(r.QBase, r.QOffset).Add(r.KBase, r.KOffset).Add(r.V)
                .Add(r.Gate).Add(r.Beta).Add(meta.CuSeqlens).Add(meta.SlotIds).Add(hk).Add(hv).Add(dk).Add(dv).Add(r.LdQk).Add(r.LdQk).Add(r.LdV)
                .Add(r.LdO));
            return;
        }

        int chunks = batch.ChunkCount;
        if (configs.Length == 3)
        {
            RunTensorCoreChunks(shape, meta, r, chunks, configs);
            return;
        }

        long tpad = (long)Chunk * chunks;
        var w = backend.Workspace.Get<float>("gdn.w", hv * tpad * dk);
        var u = backend.Workspace.Get<float>("gdn.u", hv * tpad * dv);
        var aqk = backend.Workspace.Get<float>("gdn.aqk", hv * tpad * Chunk);
        var gcum = backend.Workspace.Get<float>("gdn.gcum", hv * tpad);
        backend.Launch(ChunkPrepare, configs[0], args.Clear().Add(w).Add(u).Add(aqk).Add(gcum).Add(r.QBase, r.QOffset).Add(r.KBase, r.KOffset)
            .Add(r.V).Add(r.Gate).Add(r.Beta).Add(meta.CuSeqlens).Add(meta.ChunkIndices).Add(hk).Add(hv).Add(dk).Add(dv).Add(r.LdQk).Add(r.LdQk)
            .Add(r.LdV));
        backend.Launch(ChunkStatePass, configs[1], args.Clear().Add(r.O).Add(r.State).Add(r.QBase, r.QOffset).Add(r.KBase, r.KOffset)
            .Add(w).Add(u).Add(aqk).Add(gcum).Add(meta.CuSeqlens).Add(meta.ChunkOffsets).Add(meta.SlotIds).Add(chunks).Add(hk).Add(hv).Add(dk)
            .Add(dv).Add(r.LdQk).Add(r.LdQk).Add(r.LdO));
    }

    /// <summary>Fast precision: prepare (bf16 q, k, W, U, cumulative gates) → state pass (chunk-start states h and v_new,
    /// final state into the slot) → output, over chunk-padded workspaces that need no initialisation.</summary>
    private void RunTensorCoreChunks(GatedDeltaShape shape, PtxBatchMetadata.Views meta, DeltaRuleInputs r, int chunks, LaunchConfig[] configs)
    {
        var (hk, hv, dk, dv) = (shape.KeyHeads, shape.ValueHeads, shape.KeyDim, shape.ValueDim);
        var sizes = GatedDeltaTensorCoreKernels.WorkspaceElements(chunks, hk, hv, dk, dv);
        var qb = backend.Workspace.Get<ushort>("gdn.tc.qb", sizes.QkBf16);
        var kb = backend.Workspace.Get<ushort>("gdn.tc.kb", sizes.QkBf16);
        var w = backend.Workspace.Get<ushort>("gdn.tc.w", sizes.W);
        var u = backend.Workspace.Get<ushort>("gdn.tc.u", sizes.U);
        var gcum = backend.Workspace.Get<float>("gdn.tc.gcum", sizes.Gcum);
        var h = backend.Workspace.Get<ushort>("gdn.tc.h", sizes.H);
        var vnew = backend.Workspace.Get<ushort>("gdn.tc.vnew", sizes.VNew);
        backend.Launch(GatedDeltaTensorCoreKernels.Prepare, configs[0], args.Clear().Add(qb).Add(kb).Add(w).Add(u).Add(gcum).Add(r.QBase, r.QOffset)
            .Add(r.KBase, r.KOffset).Add(r.V).Add(r.Gate).Add(r.Beta).Add(meta.CuSeqlens).Add(meta.ChunkIndices).Add(hk).Add(hv).Add(dk).Add(dv)
            .Add(r.LdQk).Add(r.LdQk).Add(r.LdV));
        backend.Launch(GatedDeltaTensorCoreKernels.StatePass, configs[1], args.Clear().Add(h).Add(vnew).Add(r.State).Add(kb).Add(w).Add(u).Add(gcum)
            .Add(meta.ChunkOffsets).Add(meta.SlotIds).Add(chunks).Add(hk).Add(hv).Add(dk).Add(dv));
        backend.Launch(GatedDeltaTensorCoreKernels.Output, configs[2], args.Clear().Add(r.O).Add(qb).Add(kb).Add(h).Add(vnew).Add(gcum)
            .Add(meta.CuSeqlens).Add(meta.ChunkIndices).Add(hk).Add(hv).Add(dk).Add(dv).Add(r.LdO));
    }
}
