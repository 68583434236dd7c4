using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using static Qwen3Next.Backends.Ptx.LaunchChecks;

namespace Qwen3Next.Ops.GatedDelta;

/// <summary>
/// Launchers of <c>kernels/gated_delta/*.cu</c> (ABI and launch order in <c>kernels/README.md</c>).
/// Prefill: conv1d_prefill → conv1d_state_update → qk_l2norm_gates → chunk_prepare → chunk_state_pass → gated_rmsnorm.
/// Decode (T = 1): conv1d_step → qk_l2norm_gates → recurrent → gated_rmsnorm. After the gates kernel q, k, v are
/// strided views of the conv output (row stride conv_dim); the delta rule writes o straight into y, which
/// gated_rmsnorm then normalises in place (allowed when ldo = Hv·Dv). No host synchronisation.
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

    public const int Chunk = 64;
    public const int MaxKeyDim = 128;
    public const int MaxConvKernel = 8;
    public const int MaxGroup = 128;

    /// <summary>conv1d_prefill puts T on grid.y, so longer prompts are convolved in launches of this many tokens.</summary>
    public const int ConvPrefillMaxTokens = 65535;

    public static IReadOnlyList<string> KernelNames { get; } =
        [ConvPrefill, ConvStateUpdate, ConvStep, QkNormGates, Recurrent, ChunkPrepare, ChunkStatePass, GatedRmsNorm];

    private readonly KernelArguments args = new();

    internal static void CheckHeads(string kernel, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        Positive(kernel, "Hk", keyHeads);
        Positive(kernel, "Hv", valueHeads);
        Positive(kernel, "Dk", keyDim);
        Positive(kernel, "Dv", valueDim);
        Require(valueHeads % keyHeads == 0, kernel, $"Hv = {valueHeads} is not a multiple of Hk = {keyHeads}");
        AtMost(kernel, "Hv", valueHeads, 65535);
    }

    internal static LaunchConfig ConvConfig(string kernel, int convDim, int tokens, int convKernel)
    {
        Positive(kernel, "conv_dim", convDim);
        Positive(kernel, "K", convKernel);
        AtMost(kernel, "K", convKernel, MaxConvKernel);
        if (kernel == ConvPrefill)
        {
            Positive(kernel, "T", tokens);
            AtMost(kernel, "T", tokens, ConvPrefillMaxTokens);
            return new LaunchConfig(new LaunchDims(CeilDiv(convDim, 256), tokens), 256);
        }

        return new LaunchConfig(CeilDiv(convDim, 256), 256);
    }

    internal static LaunchConfig QkNormGatesConfig(int tokens, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        CheckHeads(QkNormGates, keyHeads, valueHeads, keyDim, valueDim);
        Positive(QkNormGates, "T", tokens);
        AtMost(QkNormGates, "r = Hv/Hk", valueHeads / keyHeads, MaxGroup);
        AtMost(QkNormGates, "Hk", keyHeads, 65535);
        return new LaunchConfig(new LaunchDims(tokens, keyHeads), 128);
    }

    internal static LaunchConfig RecurrentConfig(int tokens, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        CheckHeads(Recurrent, keyHeads, valueHeads, keyDim, valueDim);
        Positive(Recurrent, "T", tokens);
        AtMost(Recurrent, "Dk", keyDim, MaxKeyDim);
        return new LaunchConfig(new LaunchDims(CeilDiv(valueDim, 32), valueHeads), 128);
    }

    /// <summary>Dynamic shared memory 4·(2·64·(Dm+1) + 64·65 + 192), Dm = max(Dk, Dv): 83,456 B at 128.</summary>
    internal static LaunchConfig ChunkPrepareConfig(int tokens, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        CheckHeads(ChunkPrepare, keyHeads, valueHeads, keyDim, valueDim);
        Positive(ChunkPrepare, "T", tokens);
        AtMost(ChunkPrepare, "Dk", keyDim, MaxKeyDim);
        int dm = Math.Max(keyDim, valueDim);
        var config = new LaunchConfig(new LaunchDims(CeilDiv(tokens, Chunk), valueHeads), 256, 4 * ((2 * Chunk * (dm + 1)) + (64 * 65) + 192));
        config.Validate(ChunkPrepare);
        return config;
    }

    /// <summary>Dynamic shared memory 4·(64·Dk + 32·Dk + 64·32 + 64): 57,600 B at Dk = 128.</summary>
    internal static LaunchConfig ChunkStatePassConfig(int tokens, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        CheckHeads(ChunkStatePass, keyHeads, valueHeads, keyDim, valueDim);
        Positive(ChunkStatePass, "T", tokens);
        AtMost(ChunkStatePass, "Dk", keyDim, MaxKeyDim);
        var config = new LaunchConfig(new LaunchDims(CeilDiv(valueDim, 32), valueHeads), 256, 4 * ((64 * keyDim) + (32 * keyDim) + (64 * 32) + 64));
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
        var (t, hk, hv, dk, dv) = (shape.Tokens, shape.KeyHeads, shape.ValueHeads, shape.KeyDim, shape.ValueDim);
        var gatesConfig = QkNormGatesConfig(t, hk, hv, dk, dv);
        string rule = mode == GatedDeltaMode.Recurrent ? Recurrent : ChunkPrepare;
        var ruleConfigs = mode == GatedDeltaMode.Recurrent
            ? [RecurrentConfig(t, hk, hv, dk, dv)]
            : new[] { ChunkPrepareConfig(t, hk, hv, dk, dv), ChunkStatePassConfig(t, hk, hv, dk, dv) };
        long qkWidth = (long)hk * dk, vWidth = (long)hv * dv;
        Holds(rule, "q", q.Length, t * qkWidth);
        Holds(rule, "k", k.Length, t * qkWidth);
        Holds(rule, "v", v.Length, t * vWidth);
        Holds(rule, "g", g.Length, (long)t * hv);
        Holds(rule, "beta", beta.Length, (long)t * hv);
        Holds(rule, "state", state.Length, (long)hv * dk * dv);
        Holds(rule, "o", o.Length, t * vWidth);

        // The golden layout has separate q [T,Hk,Dk] and k: pack them into a conv-output shaped buffer
        // [T, conv_dim] so the gates kernel can l2-normalise and scale them in place; v is read where it is.
        // Its gate/beta outputs come from zero ba/A_log/dt_bias and are ignored: the rule takes g and beta as given.
        int convDim = (int)(2 * qkWidth + vWidth);
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
            PtxBackend.T(g).Span, PtxBackend.T(beta).Span, PtxBackend.T(state).Span, PtxBackend.T(o).Span, (int)vWidth);
        RunDeltaRule(shape, deltaRule, mode, ruleConfigs);
    }

    public void Mixer(GatedDeltaNetShape shape, int tokens, DeviceTensor qkvz, DeviceTensor ba, GatedDeltaNetWeights weights,
        LinearAttentionState state, DeviceTensor y)
    {
        using var use = OpContracts.GatedDeltaNet(backend.Access, shape, tokens, qkvz, ba, weights, state, y);
        var (t, hk, hv, dk, dv, kw) = (tokens, shape.KeyHeads, shape.ValueHeads, shape.KeyDim, shape.ValueDim, shape.ConvKernel);
        int convDim = shape.ConvDim, width = shape.ValueWidth;
        var rule = shape.Rule(t);
        var mode = t > 1 ? GatedDeltaMode.Chunked : GatedDeltaMode.Recurrent;
        var gatesConfig = QkNormGatesConfig(t, hk, hv, dk, dv);
        var ruleConfigs = mode == GatedDeltaMode.Recurrent
            ? [RecurrentConfig(t, hk, hv, dk, dv)]
            : new[] { ChunkPrepareConfig(t, hk, hv, dk, dv), ChunkStatePassConfig(t, hk, hv, dk, dv) };
        var normConfig = GatedRmsNormConfig(t, hv);
        var stepConfig = ConvConfig(ConvStep, convDim, 1, kw);
        string first = t > 1 ? ConvPrefill : ConvStep;
        Holds(first, "qkvz", qkvz.Length, (long)t * shape.QkvzWidth);
        Holds(QkNormGates, "ba", ba.Length, (long)t * shape.BaWidth);
        Holds(first, "conv_state", state.Conv.Length, (long)convDim * kw);
        Holds(first, "w", weights.Conv.Length, (long)convDim * kw);
        Holds(Recurrent, "state", state.Recurrent.Length, (long)hv * dk * dv);
        Holds(GatedRmsNorm, "y", y.Length, (long)t * width);
        Holds(GatedRmsNorm, "w", weights.Norm.Length, dv);

        var convOut = backend.Workspace.Get<float>("gdn.conv_out", (long)t * convDim);
        var gate = backend.Workspace.Get<float>("gdn.gate", (long)t * hv);
        var beta = backend.Workspace.Get<float>("gdn.beta", (long)t * hv);
        var (qkvzView, convState, convW) = (PtxBackend.T(qkvz).Span, PtxBackend.T(state.Conv).Span, PtxBackend.W(weights.Conv).Bits);
        if (t == 1)
        {
            backend.Launch(ConvStep, stepConfig, args.Clear().Add(convOut).Add(convState).Add(qkvzView).Add(convW)
                .Add(hk).Add(hv).Add(dk).Add(dv).Add(kw));
        }
        else
        {
            // conv1d_prefill reads the history from the conv state, so each launch of at most 65535 tokens is
            // followed by the state update before the next one starts.
            for (int t0 = 0; t0 < t; t0 += ConvPrefillMaxTokens)
            {
                int n = Math.Min(ConvPrefillMaxTokens, t - t0);
                var input = qkvzView.Slice((long)t0 * shape.QkvzWidth, (long)n * shape.QkvzWidth);
                backend.Launch(ConvPrefill, ConvConfig(ConvPrefill, convDim, n, kw), args.Clear().Add(convOut.Slice((long)t0 * convDim, (long)n * convDim))
                    .Add(convState).Add(input).Add(convW).Add(n).Add(hk).Add(hv).Add(dk).Add(dv).Add(kw));
                backend.Launch(ConvStateUpdate, ConvConfig(ConvStateUpdate, convDim, n, kw), args.Clear().Add(convState).Add(input)
                    .Add(n).Add(hk).Add(hv).Add(dk).Add(dv).Add(kw));
            }
        }

        backend.Launch(QkNormGates, gatesConfig, args.Clear().Add(convOut).Add(gate).Add(beta).Add(PtxBackend.T(ba).Span)
            .Add(PtxBackend.W(weights.ALog).Values).Add(PtxBackend.W(weights.DtBias).Values)
            .Add(t).Add(hk).Add(hv).Add(dk).Add(dv).Add(1f / MathF.Sqrt(dk)).Add(1));
        var yView = PtxBackend.T(y).Span;
        long qkWidth = (long)hk * dk;
        RunDeltaRule(rule, new DeltaRuleInputs(convOut, 0, convOut, qkWidth, convDim, convOut.Slice(2 * qkWidth, convOut.Length - (2 * qkWidth)), convDim,
            gate, beta, PtxBackend.T(state.Recurrent).Span, yView, width), mode, ruleConfigs);
        backend.Launch(GatedRmsNorm, normConfig, args.Clear().Add(yView).Add(yView).Add(qkvzView).Add(PtxBackend.W(weights.Norm).Values)
            .Add(t).Add(hk).Add(hv).Add(dk).Add(dv).Add(width).Add(shape.Eps));
    }

    /// <summary>q at <c>qBase + t·ldqk</c>, k at <c>kBase + kOffset + t·ldqk</c> (same row stride), v with ldv, o with ldo.</summary>
    private readonly record struct DeltaRuleInputs(DeviceSpan<float> QBase, long QOffset, DeviceSpan<float> KBase, long KOffset, int LdQk,
        DeviceSpan<float> V, int LdV, DeviceSpan<float> Gate, DeviceSpan<float> Beta, DeviceSpan<float> State, DeviceSpan<float> O, int LdO);

    private void RunDeltaRule(GatedDeltaShape shape, DeltaRuleInputs r, GatedDeltaMode mode, LaunchConfig[] configs)
    {
        var (t, hk, hv, dk, dv) = (shape.Tokens, shape.KeyHeads, shape.ValueHeads, shape.KeyDim, shape.ValueDim);
        if (mode == GatedDeltaMode.Recurrent)
        {
            backend.Launch(Recurrent, configs[0], args.Clear().Add(r.O).Add(r.State).Add(r.QBase, r.QOffset).Add(r.KBase, r.KOffset).Add(r.V)
                .Add(r.Gate).Add(r.Beta).Add(t).Add(hk).Add(hv).Add(dk).Add(dv).Add(r.LdQk).Add(r.LdQk).Add(r.LdV).Add(r.LdO));
            return;
        }

        long tpad = (long)Chunk * CeilDiv(t, Chunk);
        var w = backend.Workspace.Get<float>("gdn.w", hv * tpad * dk);
        var u = backend.Workspace.Get<float>("gdn.u", hv * tpad * dv);
        var aqk = backend.Workspace.Get<float>("gdn.aqk", hv * tpad * Chunk);
        var gcum = backend.Workspace.Get<float>("gdn.gcum", hv * tpad);
        backend.Launch(ChunkPrepare, configs[0], args.Clear().Add(w).Add(u).Add(aqk).Add(gcum).Add(r.QBase, r.QOffset).Add(r.KBase, r.KOffset)
            .Add(r.V).Add(r.Gate).Add(r.Beta).Add(t).Add(hk).Add(hv).Add(dk).Add(dv).Add(r.LdQk).Add(r.LdQk).Add(r.LdV));
        backend.Launch(ChunkStatePass, configs[1], args.Clear().Add(r.O).Add(r.State).Add(r.QBase, r.QOffset).Add(r.KBase, r.KOffset)
            .Add(w).Add(u).Add(aqk).Add(gcum).Add(t).Add(hk).Add(hv).Add(dk).Add(dv).Add(r.LdQk).Add(r.LdQk).Add(r.LdO));
    }
}
