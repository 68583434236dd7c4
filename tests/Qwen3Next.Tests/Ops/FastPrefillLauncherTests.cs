using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Checkpoint;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Ops.GatedDelta;
using static Qwen3Next.Tests.Ops.Batching.PackedBatches;

namespace Qwen3Next.Tests.Ops;

/// <summary>
/// The ptx backend's prefill launchers in fast precision, on the emulator with the sanitizer on: attention over a packed
/// batch and a shuffled paged fp32 cache (one a caller made; the model's caches are bf16 in fast precision, see
/// <c>Bf16KvCacheTests</c>) runs <c>attn_pages_bf16</c> → <c>attn_flash_prefill_tc</c>, the chunked gated delta rule over permuted state slots runs gdn_tc_prepare →
/// state_pass → output; each output and state meets fla's criterion against the float64 references, which a wrong
/// argument, stride, page or slot breaks by orders of magnitude. Head shapes the tensor-core kernels lack keep the exact
/// kernels in fast precision, and exact precision never launches the tensor-core ones.
/// </summary>
[TestFixture]
public sealed class FastPrefillLauncherTests
{
    private static PtxBackend Fast => (PtxBackend)TestBackends.Get(TestBackends.PtxEmuFast);

    private static PtxBackend Exact => (PtxBackend)TestBackends.Get("ptx-emu");

    [Test]
    public void AttentionPrefillRunsTheTensorCoreKernelOverThePagedCache()
    {
        var shape = new GatedAttentionShape(Hidden: 8, QueryHeads: 4, KeyValueHeads: 2, HeadDim: 64, RotaryDim: 16, RopeTheta: 1e7f, Eps: 1e-6f);
        int[] lengths = [70, 1, 33];
        int[] cached = [5, 40, 7];
        const int PageSize = 16;
        var (y, expected, keys, expectedKeys, launched) = RunAttention(Fast, shape, lengths, cached, PageSize);
        Assert.That(launched, Does.Contain(FlashPrefillTensorCoreKernel.Name).And.Contain(PtxGatedAttentionOps.PagesBf16)
            .And.Not.Contain(PtxGatedAttentionOps.FlashPrefill));
        FastPrecisionCriterion.AssertMet("y", y, expected);
        AssertClose("the fp32 key cache the fast path appends to", keys, expectedKeys, 1e-5);
    }

    [Test]
    public void ChunkedRuleRunsTheTensorCoreKernelsOverStateSlots()
    {
        var heads = new GatedDeltaShape(0, KeyHeads: 2, ValueHeads: 4, KeyDim: 32, ValueDim: 64);
        var (o, expectedO, states, expectedStates, launched) = RunRule(Fast, heads, [65, 1, 40]);
        Assert.That(launched, Is.SupersetOf(GatedDeltaTensorCoreKernels.KernelNames).And.Not.Contain(PtxGatedDeltaOps.ChunkPrepare));
        FastPrecisionCriterion.AssertMet("o", o, expectedO);
        FastPrecisionCriterion.AssertMet("state pool", states, expectedStates);
    }

    [Test]
    public void HeadDimsWithoutTensorCoreKernelsKeepTheExactKernels()
    {
        var heads = new GatedDeltaShape(0, KeyHeads: 1, ValueHeads: 2, KeyDim: 16, ValueDim: 24);
        var (o, expectedO, _, _, launched) = RunRule(Fast, heads, [20]);
        Assert.That(launched, Does.Contain(PtxGatedDeltaOps.ChunkPrepare).And.None.StartsWith("gdn_tc_"));
        Assert.That(FastPrecisionCriterion.RelativeRmsError(o, expectedO), Is.LessThan(1e-5), "the fp32 kernels");
    }

    [Test]
    public void ExactPrecisionNeverLaunchesTheTensorCoreKernels()
    {
        var heads = new GatedDeltaShape(0, KeyHeads: 1, ValueHeads: 2, KeyDim: 32, ValueDim: 32);
        var (_, _, _, _, rule) = RunRule(Exact, heads, [20]);
        var shape = new GatedAttentionShape(8, 2, 1, 64, 16, 1e7f, 1e-6f);
        var (_, _, _, _, attention) = RunAttention(Exact, shape, [9], [0], 16);
        Assert.That(rule.Concat(attention), Has.None.StartsWith("gdn_tc_").And.None.EqualTo(FlashPrefillTensorCoreKernel.Name)
            .And.None.EqualTo(PtxGatedAttentionOps.PagesBf16));
    }

    /// <summary>One step of sequences with <paramref name="cached"/> tokens already in pages drawn from a shuffled free
    /// list (the cached prefix written by a first step on the same backend), over a cache of <paramref name="element"/>s.
    /// Returns y and the key pool (widened to float) next to the reference's, and the kernels the second step launched.</summary>
    internal static (float[] Y, float[] Expected, float[] Keys, float[] ExpectedKeys, List<string> Launched) RunAttention(PtxBackend backend,
        GatedAttentionShape shape, int[] lengths, int[] cached, int pageSize, KvElement element = KvElement.Float32)
        => RunAttention(backend, shape, lengths, cached, pageSize, element, out _);

    /// <summary><see cref="RunAttention(PtxBackend, GatedAttentionShape, int[], int[], int, KvElement)"/>, with the value pool.</summary>
    internal static (float[] Y, float[] Expected, float[] Keys, float[] ExpectedKeys, List<string> Launched) RunAttention(PtxBackend backend,
        GatedAttentionShape shape, int[] lengths, int[] cached, int pageSize, KvElement element, out float[] values)
    {
        int sequences = lengths.Length, d = shape.HeadDim;
        var context = lengths.Select((n, b) => n + cached[b]).ToArray();
        int maxPages = context.Max() / pageSize + 1, numPages = context.Sum(c => (c / pageSize) + 1) + 2;
        var random = new Random(lengths.Sum());
        var free = new Queue<int>(Enumerable.Range(0, numPages).OrderBy(_ => random.Next()));
        var blockTables = new int[sequences * maxPages];
        for (int b = 0; b < sequences; b++)
        {
            for (int p = 0; p * pageSize < context[b]; p++)
            {
                blockTables[(b * maxPages) + p] = free.Dequeue();
            }
        }

        var qNorm = Uniform(random, d, -0.2f, 0.2f);
        var kNorm = Uniform(random, d, -0.2f, 0.2f);
        long pool = (long)numPages * shape.KeyValueHeads * pageSize * d;
        var expectedKeys = new float[pool];
        var expectedValues = new float[pool];
        var rope = RopeTable.Build(shape.RotaryDim, shape.RopeTheta, RopeTable.MinRows);
        using var qNormWeight = backend.LoadWeight(TensorView.FromFloat32("q_norm.weight", [d], qNorm));
        using var kNormWeight = backend.LoadWeight(TensorView.FromFloat32("k_norm.weight", [d], kNorm));
        using var cache = new PagedKvCache(backend.Allocate(element.Words(pool)), backend.Allocate(element.Words(pool)), numPages, pageSize,
            ownsTensors: true, element);
        float[] y = [], expected = [];
        var launched = new List<string>();
        foreach (var step in new[] { cached, lengths })
        {
            if (step.Sum() == 0)
            {
                continue;
            }

            var done = step == cached ? new int[sequences] : cached;
            var stepContext = step.Select((n, b) => n + done[b]).ToArray();
            var positions = step.SelectMany((n, b) => Enumerable.Range(done[b], n)).ToArray();
            var batch = new SequenceBatch(CuSeqlens(step), positions, default, stepContext, blockTables, maxPages);
            int tokens = step.Sum();
            var qg = Uniform(random, (long)tokens * shape.QueryGateWidth, -1, 1);
            var k = Uniform(random, (long)tokens * shape.KeyValueWidth, -1, 1);
            var v = Uniform(random, (long)tokens * shape.KeyValueWidth, -1, 1);
            expected = new float[tokens * shape.OutputWidth];
            GatedAttentionReference.Mixer(shape, batch, qg, k, v, qNorm, kNorm, expectedKeys, expectedValues, pageSize, rope, expected);
            using var qgDevice = backend.Upload(qg);
            using var kDevice = backend.Upload(k);
            using var vDevice = backend.Upload(v);
            using var yDevice = backend.Allocate((long)tokens * shape.OutputWidth);
            launched = Launches(backend, () => backend.Attention.Mixer(shape, batch, qgDevice, kDevice, vDevice, qNormWeight, kNormWeight, cache, yDevice));
            y = Download(backend, yDevice);
        }

        values = KvElements.Download(backend, cache.Values, element, pool);
        return (y, expected, KvElements.Download(backend, cache.Keys, element, pool), expectedKeys, launched);
    }

    /// <summary>Fresh and continued sequences (random states in permuted slots, two spare slots) through the batch Rule op.</summary>
    private static (float[] O, float[] ExpectedO, float[] States, float[] ExpectedStates, List<string> Launched) RunRule(PtxBackend backend,
        GatedDeltaShape heads, int[] lengths)
    {
        int sequences = lengths.Length, slots = sequences + 2, tokens = lengths.Sum();
        var shape = heads with { Tokens = tokens };
        int qk = shape.KeyHeads * shape.KeyDim, vo = shape.ValueHeads * shape.ValueDim, hv = shape.ValueHeads, slot = hv * shape.KeyDim * shape.ValueDim;
        var random = new Random(tokens + qk);
        var q = Uniform(random, (long)tokens * qk, -1, 1);
        var k = Uniform(random, (long)tokens * qk, -1, 1);
        var v = Uniform(random, (long)tokens * vo, -1, 1);
        var g = Uniform(random, (long)tokens * hv, -0.6f, 0f);
        var beta = Uniform(random, (long)tokens * hv, 0f, 1f);
        var pool = Uniform(random, (long)slots * slot, -1, 1);
        var slotIds = Enumerable.Range(0, sequences).Select(b => slots - 1 - b).ToArray();
        float scale = 1f / MathF.Sqrt(shape.KeyDim);

        var expectedO = new float[tokens * vo];
        var expectedStates = pool.ToArray();
        var cu = CuSeqlens(lengths);
        for (int b = 0; b < sequences; b++)
        {
            int t0 = cu[b], n = lengths[b];
            var state = Rows(expectedStates, slotIds[b], 1, slot);
            var o = new float[n * vo];
            GatedDeltaRuleReference.Run(shape with { Tokens = n }, Rows(q, t0, n, qk), Rows(k, t0, n, qk), Rows(v, t0, n, vo), Rows(g, t0, n, hv),
                Rows(beta, t0, n, hv), state, o, true, scale, GatedDeltaMode.Chunked);
            o.CopyTo(expectedO, t0 * vo);
            state.CopyTo(expectedStates, slotIds[b] * slot);
        }

        using var qd = backend.Upload(q);
        using var kd = backend.Upload(k);
        using var vd = backend.Upload(v);
        using var gd = backend.Upload(g);
        using var bd = backend.Upload(beta);
        using var sd = backend.Upload(pool);
        using var od = backend.Allocate((long)tokens * vo);
        var batch = Fresh(lengths, slotIds);
        var launched = Launches(backend, () => backend.GatedDelta.Rule(shape, batch, qd, kd, vd, gd, bd, sd, od, true, scale, GatedDeltaMode.Chunked));
        return (Download(backend, od), expectedO, Download(backend, sd), expectedStates, launched);
    }

    /// <summary>The kernels <paramref name="op"/> launched on the emulator, in order.</summary>
    internal static List<string> Launches(PtxBackend backend, Action op)
    {
        var names = new List<string>();
        void Record(PtxEmulator.LaunchResult r) => names.Add(r.Kernel.Name);
        backend.Emulator!.Launched += Record;
        try
        {
            op();
            backend.Synchronize();
        }
        finally
        {
            backend.Emulator!.Launched -= Record;
        }

        return names;
    }
}
