using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using static Qwen3Next.Tests.Ops.Batching.PackedBatches;

namespace Qwen3Next.Tests.Ops.Batching;

/// <summary>
/// Paged attention over packed batches equals contiguous attention: every sequence is also run alone on the same
/// backend in a contiguous cache (one page of its whole capacity), at the same positions, step by step — a prefill of
/// mixed lengths, two decode steps of every sequence (the split-KV decode path), then a mixed step. Pages come from a
/// shuffled free list as sequences grow, so each sequence's pages are scattered and interleaved with the others'; page
/// sizes 16, 32 and 64. One sequence's positions start at 1000 (positions are not cache indices). y is compared at the
/// golden attention tolerance (atol 1e-5: the decode KV splits differ between a batch and a sequence alone, which
/// reorders float32 sums, ~1e-7); cached keys and values are the same per-token arithmetic and must be bit-identical.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.AllBackends))]
public sealed class PagedAttentionTests(string backendName)
{
    private static readonly GatedAttentionShape Shape = new(Hidden: 8, QueryHeads: 4, KeyValueHeads: 2, HeadDim: 64, RotaryDim: 16, RopeTheta: 1e7f, Eps: 1e-6f);

    private IKernelBackend Backend => TestBackends.Get(backendName);

    [TestCase(16)]
    [TestCase(32)]
    [TestCase(64)]
    public void PagedBatchEqualsContiguousSequences(int pageSize)
    {
        bool emulated = TestBackends.EmulatedBackends.Contains(backendName);
        int[][] steps = emulated
            ? [[1, 63, 65], [1, 1, 1], [1, 1, 1], [2, 1, 17]]
            : [[1, 63, 64, 65, 130], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [2, 1, 17, 1, 40]];
        int sequences = steps[0].Length;
        var capacity = Enumerable.Range(0, sequences).Select(b => steps.Sum(s => s[b])).ToArray();
        int maxPages = capacity.Max() / pageSize + 1, numPages = capacity.Sum(c => (c / pageSize) + 1) + 3;
        var firstPosition = Enumerable.Range(0, sequences).Select(b => b == 1 ? 1000 : 0).ToArray();

        var random = new Random(pageSize);
        using var qNorm = Backend.LoadWeight(TensorView.FromFloat32("q_norm.weight", [Shape.HeadDim], Uniform(random, Shape.HeadDim, -0.2f, 0.2f)));
        using var kNorm = Backend.LoadWeight(TensorView.FromFloat32("k_norm.weight", [Shape.HeadDim], Uniform(random, Shape.HeadDim, -0.2f, 0.2f)));
        long pageFloats = (long)Shape.KeyValueHeads * pageSize * Shape.HeadDim;
        using var paged = new PagedKvCache(Backend.Allocate(numPages * pageFloats), Backend.Allocate(numPages * pageFloats), numPages, pageSize);
        var contiguous = capacity.Select(c => new KvCache(Backend.Allocate((long)Shape.KeyValueHeads * c * Shape.HeadDim),
            Backend.Allocate((long)Shape.KeyValueHeads * c * Shape.HeadDim), c)).ToArray();
        var free = new Queue<int>(Enumerable.Range(0, numPages).OrderBy(_ => random.Next()));
        var tables = Enumerable.Range(0, sequences).Select(_ => new List<int>()).ToArray();
        var context = new int[sequences];
        try
        {
            foreach (var lengths in steps)
            {
                for (int b = 0; b < sequences; b++)
                {
                    context[b] += lengths[b];
                    while (tables[b].Count * pageSize < context[b])
                    {
                        tables[b].Add(free.Dequeue());
                    }
                }

                Step(lengths, context, firstPosition, tables, maxPages, paged, contiguous, qNorm, kNorm, random);
            }
        }
        finally
        {
            foreach (var cache in contiguous)
            {
                cache.Dispose();
            }
        }
    }

    private void Step(int[] lengths, int[] context, int[] firstPosition, List<int>[] tables, int maxPages, PagedKvCache paged, KvCache[] contiguous,
        DeviceWeight qNorm, DeviceWeight kNorm, Random random)
    {
        int tokens = lengths.Sum(), sequences = lengths.Length;
        var positions = new List<int>();
        var blockTables = new int[sequences * maxPages];
        for (int b = 0; b < sequences; b++)
        {
            positions.AddRange(Enumerable.Range(firstPosition[b] + context[b] - lengths[b], lengths[b]));
            tables[b].CopyTo(blockTables, b * maxPages);
        }

        var batch = new SequenceBatch(CuSeqlens(lengths), positions.ToArray(), default, context, blockTables, maxPages);
        var qg = Uniform(random, (long)tokens * Shape.QueryGateWidth, -1, 1);
        var k = Uniform(random, (long)tokens * Shape.KeyValueWidth, -1, 1);
        var v = Uniform(random, (long)tokens * Shape.KeyValueWidth, -1, 1);
        float[] y;
        using (var qgDevice = Backend.Upload(qg))
        using (var kDevice = Backend.Upload(k))
        using (var vDevice = Backend.Upload(v))
        using (var yDevice = Backend.Allocate((long)tokens * Shape.OutputWidth))
        {
            Backend.Attention.Mixer(Shape, batch, qgDevice, kDevice, vDevice, qNorm, kNorm, paged, yDevice);
            y = Download(Backend, yDevice);
        }

        var keyPages = Download(Backend, paged.Keys);
        var valuePages = Download(Backend, paged.Values);
        var cu = batch.CuSeqlens.ToArray();
        string step = $"page size {paged.PageSize}, step [{string.Join(',', lengths)}]";
        for (int b = 0; b < sequences; b++)
        {
            int t0 = cu[b], n = lengths[b];
            var single = new SequenceBatch([0, n], positions.GetRange(t0, n).ToArray(), default, [context[b]], [0], 1);
            using var qgDevice = Backend.Upload(Rows(qg, t0, n, Shape.QueryGateWidth));
            using var kDevice = Backend.Upload(Rows(k, t0, n, Shape.KeyValueWidth));
            using var vDevice = Backend.Upload(Rows(v, t0, n, Shape.KeyValueWidth));
            using var yDevice = Backend.Allocate((long)n * Shape.OutputWidth);
            Backend.Attention.Mixer(Shape, single, qgDevice, kDevice, vDevice, qNorm, kNorm, PagedKvCache.Of(contiguous[b]), yDevice);
            AssertClose($"{step}: y of sequence {b}", Rows(y, t0, n, Shape.OutputWidth), Download(Backend, yDevice), 1e-5);
            AssertClose($"{step}: keys of sequence {b}", Gather(keyPages, tables[b], context[b], paged.PageSize), Contiguous(contiguous[b].Keys, contiguous[b].Capacity, context[b]), 0);
            AssertClose($"{step}: values of sequence {b}", Gather(valuePages, tables[b], context[b], paged.PageSize), Contiguous(contiguous[b].Values, contiguous[b].Capacity, context[b]), 0);
        }
    }

    /// <summary>Cache indices [0, context) of one sequence from the page pool, as <c>[Hkv, context, D]</c>.</summary>
    private static float[] Gather(float[] pages, List<int> table, int context, int pageSize)
    {
        int d = Shape.HeadDim, heads = Shape.KeyValueHeads;
        var rows = new float[heads * context * d];
        for (int j = 0; j < heads; j++)
        {
            for (int c = 0; c < context; c++)
            {
                long at = ((((long)table[c / pageSize] * heads) + j) * pageSize + (c % pageSize)) * d;
                Array.Copy(pages, at, rows, ((long)j * context + c) * d, d);
            }
        }

        return rows;
    }

    /// <summary>Cache indices [0, context) of a contiguous <c>[Hkv, capacity, D]</c> cache.</summary>
    private float[] Contiguous(DeviceTensor cache, int capacity, int context)
    {
        var all = Download(Backend, cache);
        int d = Shape.HeadDim;
        var rows = new float[Shape.KeyValueHeads * context * d];
        for (int j = 0; j < Shape.KeyValueHeads; j++)
        {
            Array.Copy(all, (long)j * capacity * d, rows, (long)j * context * d, (long)context * d);
        }

        return rows;
    }
}
