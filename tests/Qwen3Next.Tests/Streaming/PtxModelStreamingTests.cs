using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Checkpoint;
using Qwen3Next.Conformance;
using Qwen3Next.Cuda;
using Qwen3Next.Graph;
using Qwen3Next.Ops.Basic;
using Qwen3Next.PtxEmulator;
using Qwen3Next.Streaming;

namespace Qwen3Next.Tests.Streaming;

/// <summary>
/// The tiny model on the emulated ptx backend (sanitizer on) with 32 expert slots for its 8 × 32 routed experts, so
/// every forward pass evicts: greedy decoding of the golden prompt must give exactly the golden tokens, every
/// logit must be bit-identical to the same run with every expert resident, and a steady-state decode step must
/// make no host synchronisation besides the one that reads the logits back (the sampled token's readback), no device
/// allocation or free, and at most 12 kernel launches per layer.
/// </summary>
public sealed class PtxModelStreamingTests
{
    private static string Folder => Path.Combine(TestBackends.DataRoot, "models", "tiny-qwen3-next");

    /// <summary>Launches of a decode step outside the layers: embedding, final norm, lm_head.</summary>
    private const int HeadLaunches = 3;

    private sealed record Run(int[] Tokens, List<float[]> Logits, List<CudaDriverCounters> Steps);

    /// <summary>Prefill of the golden prompt, then greedy steps; the driver calls of each decode step.</summary>
    private static Run Generate(PtxBackend backend, Qwen3NextModel model, int[] prompt, int steps)
    {
        using var session = model.CreateSession(prompt.Length + steps);
        var logits = new List<float[]> { model.Forward(session, prompt) };
        var tokens = new List<int> { ArgmaxReference.Row(logits[^1]) };
        var counts = new List<CudaDriverCounters>();
        for (int i = 1; i < steps; i++)
        {
            var before = backend.DriverCounters.Snapshot();
            logits.Add(model.Forward(session, [tokens[^1]]));
            counts.Add(backend.DriverCounters.Since(before));
            tokens.Add(ArgmaxReference.Row(logits[^1]));
        }

        return new Run([.. tokens], logits, counts);
    }

    [Test]
    public void AnEvictingCacheGivesTheGoldenTokensBitIdenticalLogitsAndNoExtraHostSync()
        => EvictingRun(() => PtxBackend.CreateEmulated(new EmulatorOptions { Sanitize = false }), () => PtxBackend.CreateEmulated());

    /// <summary>The same on a GPU: mapped host memory, the last-CTA routing and the prefetch events on real hardware.</summary>
    [Test]
    [Category("Gpu")]
    public void AnEvictingCacheOnTheGpuGivesTheGoldenTokensAndBitIdenticalLogits()
    {
        try
        {
            PtxBackend.Create().Dispose();
        }
        catch (NotSupportedException e)
        {
            Assert.Ignore(e.Message);
        }

        EvictingRun(() => PtxBackend.Create(Precision.Exact), () => PtxBackend.Create(Precision.Exact));
    }

    private static void EvictingRun(Func<PtxBackend> createResident, Func<PtxBackend> createStreamed)
    {
        using var golden = GoldenFile.Open(Path.Combine(Folder, ConformanceRunner.ModelGoldenFile));
        var prompt = golden.I64("input_ids").Select(v => (int)v).ToArray();
        var goldenTokens = golden.I64("greedy_tokens").Select(v => (int)v).ToArray();
        using var checkpoint = QwenCheckpoint.Open(Folder);

        // On the emulator the resident run is the yardstick (its kernels are the sanitizer-checked golden path); only the
        // streamed run needs the sanitizer, and without it the emulator is faster.
        Run resident;
        using (var backend = createResident())
        using (var model = Qwen3NextModel.Load(backend, checkpoint))
        {
            resident = Generate(backend, model, prompt, goldenTokens.Length);
        }

        using var streamedBackend = createStreamed();
        var config = checkpoint.Config;
        var streaming = streamedBackend.EnableExpertStreaming(ModelShapes.From(config).Moe, config.NumHiddenLayers, slots: 32);
        using var streamedModel = Qwen3NextModel.Load(streamedBackend, checkpoint);
        streaming.ResetStatistics();
        var streamed = Generate(streamedBackend, streamedModel, prompt, goldenTokens.Length);

        Assert.That(streamed.Tokens, Is.EqualTo(goldenTokens), "the golden greedy tokens");
        Assert.That(resident.Tokens, Is.EqualTo(goldenTokens));
        for (int i = 0; i < resident.Logits.Count; i++)
        {
            Assert.That(streamed.Logits[i], Is.EqualTo(resident.Logits[i]), $"step {i}: bit-identical logits");
        }

        var s = streaming.Statistics;
        Assert.That(s.Evictions, Is.GreaterThan(0));
        Assert.That(s.ExpertBytesReadMapped, Is.GreaterThan(0));
        Assert.That(s.PredictionLookups, Is.GreaterThan(0));

        // The session reserved the decode step's activations and workspaces when it was created: the first step allocates nothing either.
        Assert.That((streamed.Steps[0].Allocations, streamed.Steps[0].Frees, resident.Steps[0].Allocations, resident.Steps[0].Frees),
            Is.EqualTo((0L, 0L, 0L, 0L)), "first decode step");

        // Steady state: every decode step after the first. One host synchronisation (the logits download); the MoE path
        // adds none, and per layer that predicts one copy kernel on the copy stream (7 of the 8 layers).
        for (int i = 1; i < streamed.Steps.Count; i++)
        {
            var (d, r) = (streamed.Steps[i], resident.Steps[i]);
            Assert.That(d.HostSynchronizations, Is.EqualTo(1), $"decode step {i + 1}");
            Assert.That(r.HostSynchronizations, Is.EqualTo(1), $"decode step {i + 1} (resident)");
            Assert.That(d.Launches, Is.EqualTo(r.Launches + config.NumHiddenLayers - 1), $"decode step {i + 1}");
            Assert.That((d.Allocations, d.Frees, d.Memsets), Is.EqualTo((r.Allocations, r.Frees, r.Memsets)), $"decode step {i + 1}");

            // Activations come from the backend's arena: no cuMemAlloc/cuMemFree once the first decode step has run.
            // At most 12 compute launches per layer; the other 3 are the embedding, the final norm and lm_head.
            Assert.That((r.Allocations, r.Frees), Is.EqualTo((0L, 0L)), $"decode step {i + 1}: allocations and frees");
            Assert.That(r.Launches - HeadLaunches, Is.LessThanOrEqualTo(12L * config.NumHiddenLayers), $"decode step {i + 1}: launches");
        }
    }

    /// <summary>A pass whose experts cannot all fit the cache is refused before it changes the session: the same session
    /// then continues exactly like a fresh one.</summary>
    [Test]
    public void APassTooLargeForTheCacheIsRefusedBeforeTheSessionChanges()
    {
        using var checkpoint = QwenCheckpoint.Open(Folder);
        var config = checkpoint.Config;
        using var backend = PtxBackend.CreateEmulated();
        backend.EnableExpertStreaming(ModelShapes.From(config).Moe, config.NumHiddenLayers, slots: 20);
        using var model = Qwen3NextModel.Load(backend, checkpoint);
        int[] prompt = [5, 17, 250, 3, 99, 400, 12, 8, 77, 1, 2, 3];
        using var session = model.CreateSession(16);
        Assert.That(() => model.Forward(session, prompt),
            Throws.InvalidOperationException.With.Message.Contains("may select 32 experts of one layer but the expert cache has 20 slots"));
        Assert.That(session.Position, Is.Zero);
        var continued = model.Forward(session, prompt.AsSpan(0, 2));
        using var fresh = model.CreateSession(16);
        Assert.That(continued, Is.EqualTo(model.Forward(fresh, prompt.AsSpan(0, 2))));
    }
}
