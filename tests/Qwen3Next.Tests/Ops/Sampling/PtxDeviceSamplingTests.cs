using NUnit.Framework;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Checkpoint;
using Qwen3Next.Conformance;
using Qwen3Next.Cuda;
using Qwen3Next.Graph;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Tests.Ops.Sampling;

/// <summary>
/// <c>sample_rows</c> (<c>kernels/basic/sample.cu</c>) on the PTX emulator with the sanitizer on. Greedy must equal
/// the host argmax (ties to the lowest id); temperature/top-k/top-p must choose, for each of its draws, the token the
/// host sampler's rule (<see cref="TokenSampler"/>) chooses for the same uniform number — the device computes
/// probabilities in float, the host in double, so only a draw within ~1e-6 of a boundary could differ, and the seeds
/// here have none. The device's draw n of row t is splitmix64(seed ^ splitmix64(n)), top 24 bits.
/// </summary>
public sealed class PtxDeviceSamplingTests
{
    private static PtxBackend Emu => (PtxBackend)TestBackends.Get("ptx-emu");

    private static ulong SplitMix64(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static double DeviceDraw(int seed, long n) => (uint)(SplitMix64((ulong)(long)seed ^ SplitMix64((ulong)n)) >> 40) / 16777216.0;

    /// <summary>Logits ~ U(-4, 4) rounded to <paramref name="levels"/> values per unit when given (to force ties).</summary>
    private static float[] Logits(int rows, int vocab, int seed, int levels = 0)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, rows * vocab).Select(_ =>
        {
            float v = (random.NextSingle() * 8) - 4;
            return levels > 0 ? MathF.Round(v * levels) / levels : v;
        }).ToArray();
    }

    private static int[][] SampleOnDevice(float[] logits, int rows, int vocab, SamplingOptions options, int draws)
    {
        using var sampler = Emu.CreateSampler(options, rows) ?? throw new AssertionException("the ptx backend should sample these options on the device");
        using var x = Emu.Upload(logits);
        var result = new int[draws][];
        for (int d = 0; d < draws; d++)
        {
            result[d] = new int[rows];
            sampler.Sample(x, rows, vocab, result[d]);
        }

        return result;
    }

    [TestCase(3, 1000, 0)]
    [TestCase(2, 4099, 2)]
    public void GreedyIsTheHostArgmax(int rows, int vocab, int levels)
    {
        var logits = Logits(rows, vocab, seed: vocab, levels);
        var chosen = SampleOnDevice(logits, rows, vocab, SamplingOptions.Greedy, draws: 1)[0];
        var expected = Enumerable.Range(0, rows).Select(r => ArgmaxReference.Row(logits.AsSpan(r * vocab, vocab))).ToArray();
        Assert.That(chosen, Is.EqualTo(expected));
    }

    [TestCase(0.7f, 20, 0.8f, 0, 1000)]
    [TestCase(1.5f, 256, 1f, 0, 1000)]
    [TestCase(1f, 5, 0.5f, 0, 1000)]
    [TestCase(1f, 64, 0.9f, 1, 3000)]
    [TestCase(2f, 256, 0.95f, 0, 100)]
    public void EachDrawChoosesWhatTheHostRuleChooses(float temperature, int topK, float topP, int levels, int vocab)
    {
        const int rows = 2, draws = 6;
        var options = new SamplingOptions(temperature, topP, topK, Seed: 1234);
        var logits = Logits(rows, vocab, seed: topK + vocab, levels);
        var chosen = SampleOnDevice(logits, rows, vocab, options, draws);
        for (int d = 0; d < draws; d++)
        {
            for (int r = 0; r < rows; r++)
            {
                int expected = TokenSampler.Choose(logits.AsSpan(r * vocab, vocab), options, DeviceDraw(options.Seed, d));
                Assert.That(chosen[d][r], Is.EqualTo(expected), $"draw {d}, row {r}");
            }
        }

        Assert.That(chosen.SelectMany(c => c).Distinct().Count(), Is.GreaterThan(1), "the draws vary");
    }

    [Test]
    public void NonFiniteLogitsAreCountedNotSampled()
    {
        var logits = Logits(2, 300, seed: 5);
        logits[300 + 7] = float.NaN;
        logits[300 + 9] = float.PositiveInfinity;
        var chosen = SampleOnDevice(logits, 2, 300, new SamplingOptions(1f, 0.9f, 10, 3), draws: 1)[0];
        Assert.That(chosen[1], Is.EqualTo(-2));
        Assert.That(chosen[0], Is.InRange(0, 299));
    }

    [Test]
    public void OptionsTheKernelDoesNotCoverAreLeftToTheHost()
    {
        Assert.That(Emu.CreateSampler(new SamplingOptions(1f, 0.9f, 0), 1), Is.Null, "top-k off: the whole vocabulary would need sorting");
        Assert.That(Emu.CreateSampler(new SamplingOptions(1f, 1f, PtxBasicOps.SampleMaxTopK + 1), 1), Is.Null);
        Assert.That(() => Emu.CreateSampler(new SamplingOptions(-1f), 1), Throws.ArgumentException.With.Message.Contains("temperature"));
    }

    /// <summary>The tiny model generating greedily with the device sampler: the golden tokens, and a steady-state decode
    /// step reads back 4 bytes (the id) with one host synchronisation, allocates nothing and launches ≤ 12 kernels a layer
    /// plus embedding, final norm, lm_head and the sampler.</summary>
    [Test]
    public void TheTinyModelDecodesTheGoldenTokensReadingBackOnlyTheIds()
    {
        string folder = Path.Combine(TestBackends.DataRoot, "models", "tiny-qwen3-next");
        using var golden = GoldenFile.Open(Path.Combine(folder, ConformanceRunner.ModelGoldenFile));
        var prompt = golden.I64("input_ids").Select(v => (int)v).ToArray();
        var goldenTokens = golden.I64("greedy_tokens").Select(v => (int)v).ToArray();
        using var checkpoint = QwenCheckpoint.Open(folder);
        using var backend = PtxBackend.CreateEmulated(new PtxEmulator.EmulatorOptions { Sanitize = false });
        backend.UseStepGraphs = false; // eager steps, so the launches are counted one by one (PtxStepGraphTests replays)
        using var model = Qwen3NextModel.Load(backend, checkpoint);
        var steps = new List<CudaDriverCounters>();
        var last = backend.DriverCounters.Snapshot();
        var result = Generator.Generate(model, prompt, goldenTokens.Length, SamplingOptions.Greedy, onToken: _ =>
        {
            steps.Add(backend.DriverCounters.Since(last));
            last = backend.DriverCounters.Snapshot();
        });

        Assert.That(result.GeneratedIds, Is.EqualTo(goldenTokens));
        int layers = checkpoint.Config.NumHiddenLayers;
        foreach (var d in steps.Skip(2))
        {
            Assert.That((d.CopiedBytes(CopyDirection.DeviceToHost), d.Copies(CopyDirection.DeviceToHost), d.HostSynchronizations), Is.EqualTo((4L, 1L, 1L)));
            Assert.That((d.Allocations, d.Frees), Is.EqualTo((0L, 0L)));
            Assert.That(d.Launches - 4, Is.LessThanOrEqualTo(12L * layers));
        }
    }
}
