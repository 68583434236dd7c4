using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Ops.GatedDelta;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Profiling;

namespace Qwen3Next.Benchmarks;

/// <summary>
/// Issue 13's prefill comparison at its shapes (default 32K tokens): the chunked gated delta rule forward (Hk 16 / Hv
/// 32 / d 128, one sequence) and one causal attention layer (Hq 16 / Hkv 2 / d 256), each through the ptx backend's
/// launchers in exact precision (the fp32 kernels) and in fast precision (the tensor-core kernels), on the PTX
/// emulator with CTA sampling and put through the H200 model — a MODEL, not a measurement — beside published anchors
/// for the same shapes. Inputs are left uninitialised (the counts do not depend on the values; sampled launches write
/// only some outputs anyway).
/// </summary>
public static class PrefillCoreComparison
{
    /// <summary>A published H200 time for the same work, quoted in issue 13.</summary>
    public sealed record Anchor(string Name, double Milliseconds);

    public static IReadOnlyList<Anchor> GatedDeltaAnchors { get; } =
        [new("fla chunk_gated_delta_rule", 1.89), new("FlashInfer", 1.55), new("FlashQLA", 0.877)];

    public static IReadOnlyList<Anchor> AttentionAnchors { get; } = [new("FlashAttention-3-class kernels", 14)];

    /// <summary>Op names in the report: the rule and attention, each in both precisions.</summary>
    public static string RuleOp(Precision p) => $"gated delta rule forward ({p.Name()})";

    public static string AttentionOp(Precision p) => $"attention prefill ({p.Name()})";

    /// <summary>Kernels of each op that the anchors time (the rule's op also packs and normalises q and k, attention
    /// applies q/k norms and RoPE); the fast attention's conversion of the cache rows to bf16 counts, since the anchors
    /// read a bf16 cache directly.</summary>
    public static bool IsCoreKernel(string kernel)
        => kernel.StartsWith("gdn_chunk_", StringComparison.Ordinal) || kernel.StartsWith("gdn_tc_", StringComparison.Ordinal)
            || kernel.StartsWith("attn_flash_prefill", StringComparison.Ordinal) || kernel == PtxGatedAttentionOps.PagesBf16;

    /// <param name="precisions">The precisions to model (default both, exact first).</param>
    public static ProfileReport Run(int tokens, int sampleCtas, Action<string>? progress = null, IReadOnlyList<Precision>? precisions = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 2);
        var options = new EmulatorOptions
        {
            Counters = true,
            Sanitize = false,
            FaultOnFindings = false,
            Sampling = sampleCtas > 0 ? CtaSampling.AtMostPerLaunch(sampleCtas) : null,
            MaxWarpInstructions = 0,
        };
        var (linear, attention) = (OpWorkloads.Shapes(BenchmarkScale.Real).Linear, OpWorkloads.Shapes(BenchmarkScale.Real).Attention);
        var ops = new List<OpProfile>();
        var notes = new List<string>();
        ProfileReport? last = null;
        foreach (var precision in precisions ?? [Precision.Exact, Precision.Fast])
        {
            using var backend = PtxBackend.CreateEmulated(options, precision);
            using var recorder = new ProfileRecorder(backend.Emulator!);
            progress?.Invoke($"{RuleOp(precision)}, T = {tokens}");
            using (recorder.BeginOp(RuleOp(precision)))
            {
                Rule(backend, linear.Rule(tokens));
            }

            progress?.Invoke($"{AttentionOp(precision)}, T = {tokens}");
            using (recorder.BeginOp(AttentionOp(precision)))
            {
                Attention(backend, attention, tokens);
            }

            last = recorder.Report();
            ops.AddRange(last.Ops);
            notes.AddRange(last.Notes.Where(n => !notes.Contains(n)));
        }

        return new ProfileReport(last!.Spec, [.. ops.OrderBy(o => o.Op.StartsWith("gated", StringComparison.Ordinal) ? 0 : 1)], notes);
    }

    private static void Rule(PtxBackend b, GatedDeltaShape s)
    {
        using var q = b.Allocate((long)s.Tokens * s.KeyHeads * s.KeyDim);
        using var k = b.Allocate((long)s.Tokens * s.KeyHeads * s.KeyDim);
        using var v = b.Allocate((long)s.Tokens * s.ValueHeads * s.ValueDim);
        using var g = b.Allocate((long)s.Tokens * s.ValueHeads);
        using var beta = b.Allocate((long)s.Tokens * s.ValueHeads);
        using var state = b.Allocate((long)s.ValueHeads * s.KeyDim * s.ValueDim);
        using var o = b.Allocate((long)s.Tokens * s.ValueHeads * s.ValueDim);
        b.GatedDelta.Rule(s, q, k, v, g, beta, state, o, l2Normalize: true, 1f / MathF.Sqrt(s.KeyDim), GatedDeltaMode.Chunked);
        b.Synchronize();
    }

    private static void Attention(PtxBackend b, GatedAttentionShape a, int tokens)
    {
        using var qNorm = b.LoadWeight(RandomWeights.Vector("q_norm", a.HeadDim, 0f, new Random(1)));
        using var kNorm = b.LoadWeight(RandomWeights.Vector("k_norm", a.HeadDim, 0f, new Random(2)));
        using var qg = b.Allocate((long)tokens * a.QueryGateWidth);
        using var k = b.Allocate((long)tokens * a.KeyValueWidth);
        using var v = b.Allocate((long)tokens * a.KeyValueWidth);
        using var y = b.Allocate((long)tokens * a.OutputWidth);
        var element = b.KvCacheElement(a);
        long cacheSize = element.Words((long)a.KeyValueHeads * tokens * a.HeadDim);
        using var cache = new KvCache(b.Allocate(cacheSize), b.Allocate(cacheSize), tokens, element);
        b.Attention.Mixer(a, tokens, qg, k, v, qNorm, kNorm, cache, y);
        b.Synchronize();
    }
}
