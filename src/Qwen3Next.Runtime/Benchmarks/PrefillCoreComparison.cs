using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Ops.GatedDelta;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;
using Qwen3Next.PtxEmulator.Memory;
using Qwen3Next.PtxEmulator.Profiling;

namespace Qwen3Next.Benchmarks;

/// <summary>
/// Issue 13's prefill comparison at its shapes (default 32K tokens): the chunked gated delta rule forward (Hk 16 / Hv
/// 32 / d 128, one sequence) and one causal attention layer (Hq 16 / Hkv 2 / d 256), each as the exact fp32 kernels
/// (through the ptx backend's ops) and as the tensor-core kernels (launched with their runtime launch configuration),
/// on the PTX emulator with CTA sampling and put through the H200 model — a MODEL, not a measurement — beside
/// published anchors for the same shapes. Inputs are left uninitialised (the counts do not depend on the values;
/// sampled launches write only some outputs anyway).
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

    /// <summary>Kernels of each op that the anchors time (the exact rule's op also packs and normalises q and k).</summary>
    public static bool IsCoreKernel(string kernel)
        => kernel.StartsWith("gdn_chunk_", StringComparison.Ordinal) || kernel.StartsWith("gdn_tc_", StringComparison.Ordinal)
            || kernel.StartsWith("attn_flash_prefill", StringComparison.Ordinal);

    public static ProfileReport Run(int tokens, int sampleCtas, Action<string>? progress = null)
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
        using var backend = PtxBackend.CreateEmulated(options);
        var gpu = backend.Emulator!;
        using var recorder = new ProfileRecorder(gpu);
        var (linear, attention) = (OpWorkloads.Shapes(BenchmarkScale.Real).Linear, OpWorkloads.Shapes(BenchmarkScale.Real).Attention);

        progress?.Invoke($"{RuleOp(Precision.Exact)}, T = {tokens}");
        using (recorder.BeginOp(RuleOp(Precision.Exact)))
        {
            ExactRule(backend, linear.Rule(tokens));
        }

        progress?.Invoke($"{RuleOp(Precision.Fast)}, T = {tokens}");
        using (recorder.BeginOp(RuleOp(Precision.Fast)))
        {
            FastRule(gpu, linear.Rule(tokens));
        }

        progress?.Invoke($"{AttentionOp(Precision.Exact)}, T = {tokens}");
        using (recorder.BeginOp(AttentionOp(Precision.Exact)))
        {
            ExactAttention(backend, attention, tokens);
        }

        progress?.Invoke($"{AttentionOp(Precision.Fast)}, T = {tokens}");
        using (recorder.BeginOp(AttentionOp(Precision.Fast)))
        {
            FastAttention(gpu, attention, tokens);
        }

        return recorder.Report();
    }

    private static void ExactRule(PtxBackend b, GatedDeltaShape s)
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

    /// <summary>The three tensor-core launches as the fast launcher issues them for one sequence: q, k, v in the conv
    /// output layout <c>[T, conv_dim]</c> (row stride conv_dim), one state slot.</summary>
    private static void FastRule(EmulatedGpu gpu, GatedDeltaShape s)
    {
        var (t, hk, hv, dk, dv) = (s.Tokens, s.KeyHeads, s.ValueHeads, s.KeyDim, s.ValueDim);
        int conv = (2 * hk * dk) + (hv * dv);
        var (indices, offsets) = GatedDeltaTensorCoreKernels.ChunkTables([t]);
        int chunks = offsets[^1];
        var sizes = GatedDeltaTensorCoreKernels.WorkspaceElements(chunks, hk, hv, dk, dv);
        using var memory = new Allocations(gpu);
        var convOut = memory.Floats(t * (long)conv);
        var (qb, kb, w, u) = (memory.Halves(sizes.QkBf16), memory.Halves(sizes.QkBf16), memory.Halves(sizes.W), memory.Halves(sizes.U));
        var (gcum, h, vnew) = (memory.Floats(sizes.Gcum), memory.Halves(sizes.H), memory.Halves(sizes.VNew));
        var (gate, beta, pool, o) = (memory.Floats((long)t * hv), memory.Floats((long)t * hv), memory.Floats((long)hv * dk * dv), memory.Floats((long)t * hv * dv));
        var (cu, chunkIndices, chunkOffsets, slots) = (memory.Ints([0, t]), memory.Ints(indices), memory.Ints(offsets), memory.Ints([0]));
        ulong q = convOut.Start, k = q + (ulong)(4 * hk * dk), vv = q + (ulong)(8 * hk * dk);
        Launch(gpu, GatedDeltaTensorCoreKernels.Prepare, GatedDeltaTensorCoreKernels.PrepareConfig(chunks, hk, hv, dk, dv),
            qb, kb, w, u, gcum, q, k, vv, gate, beta, cu, chunkIndices, hk, hv, dk, dv, conv, conv, conv);
        Launch(gpu, GatedDeltaTensorCoreKernels.StatePass, GatedDeltaTensorCoreKernels.StatePassConfig(1, hk, hv, dk, dv),
            h, vnew, pool, kb, w, u, gcum, chunkOffsets, slots, chunks, hk, hv, dk, dv);
        Launch(gpu, GatedDeltaTensorCoreKernels.Output, GatedDeltaTensorCoreKernels.OutputConfig(chunks, hk, hv, dk, dv),
            o, qb, kb, h, vnew, gcum, cu, chunkIndices, hk, hv, dk, dv, hv * dv);
    }

    private static void ExactAttention(PtxBackend b, GatedAttentionShape a, int tokens)
    {
        using var qNorm = b.LoadWeight(RandomWeights.Vector("q_norm", a.HeadDim, 0f, new Random(1)));
        using var kNorm = b.LoadWeight(RandomWeights.Vector("k_norm", a.HeadDim, 0f, new Random(2)));
        using var qg = b.Allocate((long)tokens * a.QueryGateWidth);
        using var k = b.Allocate((long)tokens * a.KeyValueWidth);
        using var v = b.Allocate((long)tokens * a.KeyValueWidth);
        using var y = b.Allocate((long)tokens * a.OutputWidth);
        long cacheSize = (long)a.KeyValueHeads * tokens * a.HeadDim;
        using var cache = new KvCache(b.Allocate(cacheSize), b.Allocate(cacheSize), tokens);
        b.Attention.Mixer(a, tokens, qg, k, v, qNorm, kNorm, cache, y);
        b.Synchronize();
    }

    /// <summary>One sequence of <paramref name="tokens"/> over a bf16 paged cache of 64-row pages.</summary>
    private static void FastAttention(EmulatedGpu gpu, GatedAttentionShape a, int tokens)
    {
        const int PageSize = 64;
        int pages = (tokens + PageSize - 1) / PageSize;
        using var memory = new Allocations(gpu);
        long pool = (long)pages * a.KeyValueHeads * PageSize * a.HeadDim;
        var (y, q, qg) = (memory.Floats((long)tokens * a.OutputWidth), memory.Floats((long)tokens * a.QueryHeads * a.HeadDim), memory.Floats((long)tokens * a.QueryGateWidth));
        var (kPages, vPages) = (memory.Halves(pool), memory.Halves(pool));
        var (cu, contexts, tables) = (memory.Ints([0, tokens]), memory.Ints([tokens]), memory.Ints([.. Enumerable.Range(0, pages)]));
        Launch(gpu, FlashPrefillTensorCoreKernel.Name, FlashPrefillTensorCoreKernel.Config(tokens, 1, a.QueryHeads, a.KeyValueHeads, a.HeadDim),
            y, q, qg, kPages, vPages, cu, contexts, tables, a.QueryHeads, a.KeyValueHeads, a.HeadDim, PageSize, pages, a.Scale);
    }

    private static void Launch(EmulatedGpu gpu, string kernel, LaunchConfig config, params object[] arguments)
    {
        var catalog = PtxCatalog.Embedded;
        catalog.EnsureAvailable();
        var info = catalog.ModuleOf(kernel);
        var decoded = gpu.LoadModule(catalog.ReadText(info), info.Name).GetKernel(kernel);
        var packer = new KernelParameterPacker(decoded);
        for (int i = 0; i < arguments.Length; i++)
        {
            _ = arguments[i] switch
            {
                MemoryRegion r => packer.Set(i, r.Start, 8),
                ulong address => packer.Set(i, address, 8),
                int n => packer.Set(i, n),
                float f => packer.Set(i, f),
                _ => throw new ArgumentException($"{kernel}: argument {i} has an unsupported type {arguments[i].GetType()}"),
            };
        }

        var geometry = new LaunchGeometry(new Dim3(config.Grid.X, config.Grid.Y, config.Grid.Z), new Dim3(config.Block.X, config.Block.Y, config.Block.Z),
            config.DynamicSharedBytes);
        gpu.Launch(decoded, geometry, packer.Bytes);
    }

    /// <summary>Device allocations of one comparison, freed together.</summary>
    private sealed class Allocations(EmulatedGpu gpu) : IDisposable
    {
        private readonly List<MemoryRegion> regions = [];

        public MemoryRegion Floats(long count) => Add(gpu.Memory.Allocate(Math.Max(16, count * 4), $"f32[{count}]"));

        public MemoryRegion Halves(long count) => Add(gpu.Memory.Allocate(Math.Max(16, count * 2), $"bf16[{count}]"));

        public MemoryRegion Ints(int[] values)
        {
            var region = Add(gpu.Memory.Allocate(Math.Max(16, values.Length * 4), $"i32[{values.Length}]"));
            gpu.Memory.Write(region.Start, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()), region.Name);
            return region;
        }

        private MemoryRegion Add(MemoryRegion region)
        {
            regions.Add(region);
            return region;
        }

        public void Dispose()
        {
            foreach (var r in regions)
            {
                gpu.Memory.Free(r.Start);
            }
        }
    }
}
