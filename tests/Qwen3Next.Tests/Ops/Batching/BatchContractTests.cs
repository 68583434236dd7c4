using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Tests.Safety;

namespace Qwen3Next.Tests.Ops.Batching;

/// <summary>
/// A bad batch description gets a clear, typed error naming the array at fault, before any kernel runs: the batch's own
/// structure when it is built (<see cref="SequenceBatch"/>), what ties it to an op's pools when the op is called
/// (<see cref="OpContracts"/>) — on the reference, ILGPU and the ptx launchers (whose launch counter must not move).
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.HostSideBackends))]
public sealed class BatchContractTests(string backendName)
{
    private const int Pages = 6, PageSize = 16;

    private OpInputs ops = null!;

    [OneTimeSetUp]
    public void Create() => ops = new OpInputs(TestBackends.Get(backendName));

    [OneTimeTearDown]
    public void Dispose() => ops?.Dispose();

    private static readonly Dictionary<string, (string Argument, string Message, Func<SequenceBatch> Build)> BadStructures = new()
    {
        ["cu_seqlens not starting at 0"] = ("batch.CuSeqlens", "must start at 0", () => new SequenceBatch([1, 3], [0, 1])),
        ["cu_seqlens decreasing"] = ("batch.CuSeqlens", "decreases at sequence 1", () => new SequenceBatch([0, 3, 2, 4], [0, 1, 2, 3])),
        ["cu_seqlens not ending at the token count"] = ("batch.CuSeqlens", "ends at 3 but the batch has 4 tokens", () => new SequenceBatch([0, 1, 3], [0, 1, 2, 3])),
        ["an empty sequence"] = ("batch.CuSeqlens", "Sequence 1 is empty", () => new SequenceBatch([0, 2, 2, 3], [0, 1, 0])),
        ["a negative position"] = ("batch.Positions", "outside", () => new SequenceBatch([0, 2], [0, -1])),
        ["a slot used by two sequences"] = ("batch.SlotIds", "used by sequences 0 and 2", () => new SequenceBatch([0, 1, 2, 3], [0, 0, 0], [4, 1, 4])),
        ["a negative slot"] = ("batch.SlotIds", "negative", () => new SequenceBatch([0, 1], [0], [-1])),
        ["slot ids of another batch size"] = ("batch.SlotIds", "holds 1 ids for 2 sequences", () => new SequenceBatch([0, 1, 2], [0, 0], [0])),
        ["a context shorter than the new tokens"] = ("batch.ContextLengths", "at least its 3 new tokens", () => new SequenceBatch([0, 3], [0, 1, 2], default, [2], [0], 1)),
        ["block tables of another shape"] = ("batch.BlockTables", "[B, max_pages] = [2, 2]", () => new SequenceBatch([0, 1, 2], [0, 0], default, [1, 1], [0, 1, 2], 2)),
    };

    public static IEnumerable<string> Structures => BadStructures.Keys;

    [TestCaseSource(nameof(Structures))]
    public void ABadBatchStructureIsRefusedWhenBuilt(string name)
    {
        var (argument, message, build) = BadStructures[name];
        var e = Assert.Throws(Is.InstanceOf<ArgumentException>(), () => build());
        Assert.That(((ArgumentException)e!).ParamName, Is.EqualTo(argument), e.Message);
        Assert.That(e.Message, Does.Contain(message));
    }

    /// <summary>Batches that are well-formed on their own but do not fit the op's pools: (argument, message, batch).</summary>
    private static readonly Dictionary<string, (string Argument, string Message, Func<SequenceBatch> Build)> BadForPools = new()
    {
        // Two sequences of 3 and 2 tokens; the pool has 3 slots and 6 pages of 16.
        ["a slot id outside the pool"] = ("batch.SlotIds", "outside the 3 slots", () => new SequenceBatch([0, 3, 5], [0, 1, 2, 0, 1], [0, 3], [3, 2], [0, 1], 1)),
        ["a page index outside the pool"] = ("batch.BlockTables", "outside the 6 pages", () => new SequenceBatch([0, 3, 5], [0, 1, 2, 0, 1], [0, 1], [3, 2], [0, 6], 1)),
        ["a page used by two sequences"] = ("batch.BlockTables", "used by sequences 0 and 1", () => new SequenceBatch([0, 3, 5], [0, 1, 2, 0, 1], [0, 1], [3, 2], [4, 4], 1)),
        ["a page used twice by one sequence"] = ("batch.BlockTables", "twice by sequence 0", () => new SequenceBatch([0, 3, 4], [15, 16, 17, 0], [0, 1], [18, 1], [2, 2, 3, 5], 2)),
        ["a block table too short for the context"] = ("batch.BlockTables", "17 tokens: 2 pages of 16, but its block table has 1 entries", () => new SequenceBatch([0, 3, 5], [14, 15, 16, 0, 1], [0, 1], [17, 2], [0, 1], 1)),
    };

    public static IEnumerable<string> ForPools => BadForPools.Keys;

    [TestCaseSource(nameof(ForPools))]
    public void ABatchThatDoesNotFitTheOpsPoolsIsRefusedBeforeAnyLaunch(string name)
    {
        var (argument, message, build) = BadForPools[name];
        var batch = build();
        long launches = Launches();
        var a = OpInputs.Attention;
        var g = OpInputs.Gdn;
        int t = batch.TotalTokens;
        bool paged = argument == "batch.BlockTables";
        var y = ops.Zeros((long)t * (paged ? a.OutputWidth : g.ValueWidth));
        var e = Assert.Throws(Is.InstanceOf<ArgumentException>(), () =>
        {
            if (paged)
            {
                long pool = (long)Pages * a.KeyValueHeads * PageSize * a.HeadDim;
                var cache = ops.Own(new PagedKvCache(ops.Zeros(pool), ops.Zeros(pool), Pages, PageSize));
                ops.Backend.Attention.Mixer(a, batch, ops.Input(t * a.QueryGateWidth), ops.Input(t * a.KeyValueWidth), ops.Input(t * a.KeyValueWidth),
                    ops.QNorm, ops.KNorm, cache, y);
            }
            else
            {
                var pool = ops.Own(new LinearAttentionStatePool(ops.Zeros(3L * g.ConvDim * g.ConvKernel), ops.Zeros(3L * g.ValueHeads * g.KeyDim * g.ValueDim), 3));
                ops.Backend.GatedDelta.Mixer(g, batch, ops.Input(t * g.QkvzWidth), ops.Input(t * g.BaWidth), ops.GdnWeights, pool, y);
            }
        });
        Assert.That(((ArgumentException)e!).ParamName, Is.EqualTo(argument), e.Message);
        Assert.That(e.Message, Does.Contain(message));
        Assert.That(Launches(), Is.EqualTo(launches), "nothing was launched");
        Assert.That(ops.Download(y), Is.All.Zero, "nothing was written");
    }

    [Test]
    public void TensorsOfAnotherTokenCountAreRefused()
    {
        var g = OpInputs.Gdn;
        var batch = new SequenceBatch([0, 2, 5], [0, 1, 0, 1, 2], [0, 1]);
        var pool = ops.Own(new LinearAttentionStatePool(ops.Zeros(2L * g.ConvDim * g.ConvKernel), ops.Zeros(2L * g.ValueHeads * g.KeyDim * g.ValueDim), 2));
        var e = Assert.Throws<ArgumentException>(() => ops.Backend.GatedDelta.Mixer(g, batch, ops.Input(4L * g.QkvzWidth), ops.Input(5L * g.BaWidth),
            ops.GdnWeights, pool, ops.Zeros(5L * g.ValueWidth)));
        Assert.That(e!.ParamName, Is.EqualTo("qkvz"));

        var rule = g.Rule(4);
        var r = Assert.Throws<ArgumentException>(() => ops.Backend.GatedDelta.Rule(rule, batch, ops.Input(100), ops.Input(100), ops.Input(100), ops.Input(100),
            ops.Input(100), ops.Zeros(2L * g.ValueHeads * g.KeyDim * g.ValueDim), ops.Zeros(100), true, 1f, GatedDeltaMode.Chunked));
        Assert.That(r!.ParamName, Is.EqualTo("shape.Tokens"));
        Assert.That(r.Message, Does.Contain("packs 5 tokens"));
    }

    [Test]
    public void OpsThatNeedSlotsOrBlockTablesSayWhenTheBatchHasNone()
    {
        var g = OpInputs.Gdn;
        var a = OpInputs.Attention;
        var noSlots = new SequenceBatch([0, 1], [0]);
        var pool = ops.Own(new LinearAttentionStatePool(ops.Zeros((long)g.ConvDim * g.ConvKernel), ops.Zeros((long)g.ValueHeads * g.KeyDim * g.ValueDim), 1));
        var e = Assert.Throws<ArgumentException>(() => ops.Backend.GatedDelta.Mixer(g, noSlots, ops.Input(g.QkvzWidth), ops.Input(g.BaWidth), ops.GdnWeights,
            pool, ops.Zeros(g.ValueWidth)));
        Assert.That(e!.ParamName, Is.EqualTo("batch.SlotIds"));

        long size = (long)a.KeyValueHeads * PageSize * a.HeadDim;
        var cache = ops.Own(new PagedKvCache(ops.Zeros(size), ops.Zeros(size), 1, PageSize));
        var p = Assert.Throws<ArgumentException>(() => ops.Backend.Attention.Mixer(a, noSlots, ops.Input(a.QueryGateWidth), ops.Input(a.KeyValueWidth),
            ops.Input(a.KeyValueWidth), ops.QNorm, ops.KNorm, cache, ops.Zeros(a.OutputWidth)));
        Assert.That(p!.ParamName, Is.EqualTo("batch.BlockTables"));
    }

    private long Launches() => ops.Backend is PtxBackend ptx ? ptx.DriverCounters.Launches : 0;
}
