using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using Qwen3Next.Tests.Ops.Moe;

namespace Qwen3Next.Tests.Streaming;

/// <summary>
/// The ptx backend's device-side expert cache, op by op on the PTX emulator (sanitizer on): three MoE layers share a
/// cache far smaller than their experts, prefill and decode calls run through them in model order, and every output
/// must be bit-identical to the same calls with every expert resident (the kernels are the same; only where the
/// weights are read from changes). The counts of the device statistics and of the driver calls must add up.
/// </summary>
public sealed class PtxExpertStreamingTests
{
    private static readonly MoeShape Shape = new(64, 16, 4, 24, 32, true);

    private static MoeCase[] Layers() => [.. Enumerable.Range(0, 3).Select(l => new MoeCase(Shape, tokens: 12, seed: 40 + l))];

    /// <summary>Calls of <paramref name="tokens"/>[i] tokens through all three layers in order (prefill above 8 tokens: the
    /// device acquire and copy kernels, then the grouped GEMMs; decode otherwise); returns every output in call order.
    /// Inputs and outputs are allocated up front and read back at the end, so nothing frees memory (which waits for
    /// every stream) between calls: only the events order the copy stream's prefetches before the kernels that read them.</summary>
    private static List<float[]> RunSequence(IKernelBackend backend, MoeWeights[] weights, int[] tokens, int seed)
    {
        var random = new Random(seed);
        var calls = tokens.SelectMany(t => weights.Select(w => (Tokens: t, Weights: w))).ToList();
        var inputs = calls.Select(c => backend.Upload(Enumerable.Range(0, c.Tokens * Shape.Hidden).Select(_ => (random.NextSingle() * 2) - 1).ToArray()))
            .ToList();
        var outputs = calls.Select(c => backend.Allocate((long)c.Tokens * Shape.Hidden)).ToList();
        try
        {
            for (int i = 0; i < calls.Count; i++)
            {
                backend.Moe.Block(Shape, calls[i].Tokens, inputs[i], calls[i].Weights, outputs[i]);
            }

            return [.. outputs.Select((y, i) =>
            {
                var result = new float[calls[i].Tokens * Shape.Hidden];
                backend.Download(y, result);
                return result;
            })];
        }
        finally
        {
            inputs.Concat(outputs).ToList().ForEach(t => t.Dispose());
        }
    }

    private static readonly int[] Prefill = [12];
    private static readonly int[] Decode = [1, 1, 1, 1];
    private static readonly int[] Mixed = [3, 1, 12, 1];

    [Test]
    public void AnEvictingCacheGivesBitIdenticalOutputsAndItsCountsAddUp()
    {
        var layers = Layers();
        using var resident = PtxBackend.CreateEmulated();
        var residentWeights = layers.Select(c => c.Load(resident)).ToArray();
        var expected = RunSequence(resident, residentWeights, Prefill, 1).Concat(RunSequence(resident, residentWeights, Decode, 2))
            .Concat(RunSequence(resident, residentWeights, Mixed, 3)).ToList();

        using var streamed = PtxBackend.CreateEmulated();
        var streaming = streamed.EnableExpertStreaming(Shape, layers: 3, slots: 16);
        var streamedWeights = layers.Select(c => c.Load(streamed)).ToArray();
        long bytes = streaming.ExpertBytes;
        streaming.ResetStatistics();

        // Prefill: every miss is copied into a slot before the grouped GEMMs; nothing is read mapped or predicted.
        var actual = RunSequence(streamed, streamedWeights, Prefill, 1);
        var p = streaming.Statistics;
        Assert.That(p.ExpertMisses, Is.GreaterThan(0));
        Assert.That((p.ExpertBytesCopied, p.ExpertBytesReadMapped, p.ExpertPrefetches), Is.EqualTo((p.ExpertMisses * bytes, 0L, 0L)));

        // Decode (one token): a miss is read once from mapped memory (and written into its slot by the same kernel);
        // layers 0 and 1 predict layers 1 and 2 at every step, and the predicted misses are copied ahead.
        actual.AddRange(RunSequence(streamed, streamedWeights, Decode, 2));
        var d = streaming.Statistics.Since(p);
        Assert.That(d.ExpertBytesReadMapped, Is.EqualTo(d.ExpertMisses * bytes));
        Assert.That(d.ExpertBytesCopied - d.ExpertBytesReadMapped, Is.EqualTo(d.ExpertPrefetches * bytes));
        Assert.That(d.PredictionLookups, Is.EqualTo(2 * Decode.Length * Shape.TopK));
        Assert.That(d.PredictionHits, Is.InRange(0, d.PredictionLookups));
        Assert.That(d.ExpertHits + d.ExpertMisses, Is.EqualTo(3 * Decode.Length * Shape.TopK));
        Assert.That(d.Evictions, Is.GreaterThan(0), "16 slots for 3 x 16 experts must evict");

        actual.AddRange(RunSequence(streamed, streamedWeights, Mixed, 3));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.That(actual[i], Is.EqualTo(expected[i]), $"call {i}: bit-identical output");
        }

        var counts = streaming.RoutingCounts();
        Assert.That(counts.Total, Is.EqualTo(3L * Shape.TopK * (Prefill.Sum() + Decode.Sum() + Mixed.Sum())), "every selection is counted once");
        foreach (var w in streamedWeights.Concat(residentWeights))
        {
            w.Dispose();
        }
    }

    [Test]
    public void ADecodeLayerIsThreeLaunchesPlusItsPrefetchAndNoHostRoundTrip()
    {
        var layers = Layers();
        using var backend = PtxBackend.CreateEmulated();
        backend.EnableExpertStreaming(Shape, layers: 3, slots: 16);
        var weights = layers.Select(c => c.Load(backend)).ToArray();
        RunSequence(backend, weights, [12, 1], 4);
        using var x = backend.Upload(new float[Shape.Hidden]);
        using var y = backend.Allocate(Shape.Hidden);
        var counts = new List<CudaDriverCounters>();
        for (int l = 0; l < 3; l++)
        {
            var before = backend.DriverCounters.Snapshot();
            backend.Moe.Block(Shape, 1, x, weights[l], y);
            counts.Add(backend.DriverCounters.Since(before));
        }

        // Layers 0 and 1 predict their successor (one copy kernel on the copy stream); the last layer does not.
        Assert.That(counts.Select(d => d.Launches), Is.EqualTo(new long[] { 4, 4, 3 }));
        Assert.That(counts.Sum(d => d.HostSynchronizations + d.Allocations + d.Frees + d.Memsets + d.Copies(CopyDirection.HostToDevice)), Is.Zero);
        foreach (var w in weights)
        {
            w.Dispose();
        }
    }

    [Test]
    public void MoreSlotsThanExpertsOrFewerThanTopKAreRefusedBeforeAnyWeightMoves()
    {
        using var backend = PtxBackend.CreateEmulated();
        long before = backend.DriverCounters.HostAllocations;
        Assert.That(() => backend.EnableExpertStreaming(Shape, layers: 3, slots: 49),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("more than the 3 x 16 = 48 routed experts"));
        Assert.That(() => backend.EnableExpertStreaming(Shape, layers: 3, slots: 3),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("at least top-k = 4 slots"));
        Assert.That(backend.DriverCounters.HostAllocations, Is.EqualTo(before), "no pinned memory was taken");
        Assert.That(backend.Streaming, Is.Null);
    }

    [Test]
    public void APrefillTheCacheCannotHoldIsRefusedBeforeAnyLaunch()
    {
        var c = new MoeCase(Shape, tokens: 12, seed: 9);
        using var backend = PtxBackend.CreateEmulated();
        backend.EnableExpertStreaming(Shape, layers: 1, slots: 10);
        using var weights = c.Load(backend);
        using var x = backend.Upload(c.X);
        using var y = backend.Allocate(12L * Shape.Hidden);
        long launches = backend.DriverCounters.Launches;
        Assert.That(() => backend.Moe.Block(Shape, 12, x, weights, y),
            Throws.InvalidOperationException.With.Message.Contains("may select 16 experts of one layer but the expert cache has 10 slots"));
        Assert.That(backend.DriverCounters.Launches, Is.EqualTo(launches));
    }
}
