using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Checkpoint;
using Qwen3Next.Conformance;
using Qwen3Next.Cuda;
using Qwen3Next.Graph;
using Qwen3Next.PtxEmulator;

namespace Qwen3Next.Tests.Graph;

/// <summary>
/// The tiny model decoding on the emulated ptx backend (sanitizer on) with its decode steps captured as a CUDA graph
/// and replayed: the same tokens as eager execution (greedy: the golden ones; sampled: the same draws), and in steady
/// state one graph launch, no other launch, no allocation and one host synchronisation (the id) per step. The first
/// decode step runs eagerly, the second is captured and replayed, every later one is replayed.
/// </summary>
public sealed class PtxStepGraphTests
{
    private static string Folder => Path.Combine(TestBackends.DataRoot, "models", "tiny-qwen3-next");

    private static (int[] Tokens, List<CudaDriverCounters> Steps) Generate(bool graphs, SamplingOptions sampling, int[] prompt, int count,
        Precision precision = Precision.Exact)
    {
        using var checkpoint = QwenCheckpoint.Open(Folder);
        using var backend = PtxBackend.CreateEmulated(new EmulatorOptions { Sanitize = graphs }, precision);
        backend.UseStepGraphs = graphs;
        using var model = Qwen3NextModel.Load(backend, checkpoint);
        var steps = new List<CudaDriverCounters>();
        var last = backend.DriverCounters.Snapshot();
        var result = Generator.Generate(model, prompt, count, sampling, onToken: _ =>
        {
            steps.Add(backend.DriverCounters.Since(last));
            last = backend.DriverCounters.Snapshot();
        });
        return (result.GeneratedIds, steps);
    }

    [Test]
    public void GreedyReplayGivesTheGoldenTokensWithOneGraphLaunchPerStep()
    {
        using var golden = GoldenFile.Open(Path.Combine(Folder, ConformanceRunner.ModelGoldenFile));
        var prompt = golden.I64("input_ids").Select(v => (int)v).ToArray();
        var goldenTokens = golden.I64("greedy_tokens").Select(v => (int)v).ToArray();
        var (tokens, steps) = Generate(graphs: true, SamplingOptions.Greedy, prompt, goldenTokens.Length);

        Assert.That(tokens, Is.EqualTo(goldenTokens));
        Assert.That(steps[1].GraphLaunches, Is.Zero, "the first decode step runs eagerly");
        Assert.That(steps[2].GraphLaunches, Is.EqualTo(1), "the second is captured and replayed");
        foreach (var d in steps.Skip(3))
        {
            Assert.That((d.GraphLaunches, d.Launches, d.Allocations, d.Frees, d.HostSynchronizations), Is.EqualTo((1L, 0L, 0L, 0L, 1L)));
            Assert.That(d.CopiedBytes(CopyDirection.DeviceToHost), Is.EqualTo(4), "the sampled id");
        }
    }

    [Test]
    public void SampledReplayGivesTheEagerTokens()
    {
        int[] prompt = [5, 17, 250, 3, 99, 400];
        var sampling = new SamplingOptions(1.2f, 0.95f, 256, Seed: 7);
        var (eager, eagerSteps) = Generate(graphs: false, sampling, prompt, 8);
        var (replayed, replayedSteps) = Generate(graphs: true, sampling, prompt, 8);

        Assert.That(replayed, Is.EqualTo(eager));
        Assert.That(eager.Distinct().Count(), Is.GreaterThan(2), "the draws vary");
        Assert.That(eagerSteps.Sum(d => d.GraphLaunches), Is.Zero);
        Assert.That(replayedSteps.Skip(2).All(d => d.GraphLaunches == 1), Is.True);
    }

    /// <summary>Fast precision captures the decode step over the bf16 KV cache (the tiny model's Hq 4 / Hkv 2 / D 64 takes it:
    /// attn_qk_norm_rope_bf16, attn_flash_decode_bf16)
    /// and replays it to the eager step's tokens.</summary>
    [Test]
    public void FastPrecisionReplayOverTheBf16CacheGivesTheEagerTokens()
    {
        int[] prompt = [5, 17, 250, 3, 99, 400];
        var (eager, _) = Generate(graphs: false, SamplingOptions.Greedy, prompt, 6, Precision.Fast);
        var (replayed, steps) = Generate(graphs: true, SamplingOptions.Greedy, prompt, 6, Precision.Fast);

        Assert.That(replayed, Is.EqualTo(eager));
        Assert.That(steps.Skip(3).Select(d => (d.GraphLaunches, d.Launches)), Is.All.EqualTo((1L, 0L)));
    }
}
