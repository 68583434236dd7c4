using System.Text.Json;
using NUnit.Framework;
using Qwen3Next.Streaming;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Cli;

/// <summary>
/// <c>kernels run --device-memory</c> on the emulated ptx backend: a budget that forces eviction still gives the
/// golden tokens' prefix, <c>--stats</c> has the per-decoded-token figures (one host synchronisation, the logits),
/// <c>--save-expert-counts</c> writes the routing counts and <c>--warm-experts</c> starts the next run from them;
/// bad configurations are one clear error line before any weight moves.
/// </summary>
public sealed class StreamingRunTests
{
    /// <summary>Two prompt tokens keep the prefill on the decode path: 20 slots hold one decode layer's experts and its prediction.</summary>
    private static readonly string[] Run = ["run", "--model", GoldenData.TinyModel, "--backend", "ptx-emu", "--prompt-ids", "280,105", "-n", "5"];

    [Test]
    public void StreamsWithStatisticsCountsAndAWarmStart()
    {
        using var temp = new TempFolder();
        string stats = Path.Combine(temp.Path, "stats.json"), counts = Path.Combine(temp.Path, "counts.json");
        var (code, stdout, stderr) = CliRunner.Run([.. Run, "--device-memory", "2.8MiB", "--stats", stats, "--save-expert-counts", counts]);
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("expert slots"));

        using var doc = JsonDocument.Parse(File.ReadAllText(stats));
        var root = doc.RootElement;
        int slots = root.GetProperty("expert_slots").GetInt32();
        Assert.That(slots, Is.InRange(20, 255), "a cache smaller than the 8 x 32 experts");
        Assert.That(root.GetProperty("evictions").GetInt64(), Is.GreaterThan(0));
        var decode = root.GetProperty("decode");
        Assert.That(decode.GetProperty("tokens").GetInt32(), Is.EqualTo(3), "decode steps after the first");
        Assert.That(decode.GetProperty("host_synchronizations_per_token").GetDouble(), Is.EqualTo(1));
        Assert.That(decode.GetProperty("expert_hit_rate").GetDouble(), Is.InRange(0, 1));
        Assert.That(decode.GetProperty("prediction_hit_rate").GetDouble(), Is.InRange(0, 1));
        Assert.That(decode.GetProperty("kernel_launches_per_token").GetDouble(), Is.GreaterThan(0));

        var saved = ExpertRoutingCounts.Load(counts);
        Assert.That((saved.Layers, saved.Experts, saved.Total), Is.EqualTo((8, 32, 8L * 10 * (2 + 4))), "2 prompt tokens and 4 decode steps");

        var (warmCode, warmOut, warmErr) = CliRunner.Run([.. Run, "--device-memory", "2.8MiB", "--warm-experts", counts]);
        Assert.That(warmCode, Is.Zero, warmErr);
        Assert.That(Tokens(warmOut), Is.EqualTo(Tokens(stdout)), "the warm start changes what is cached, not what is computed");
    }

    [Test]
    public void TooSmallABudgetIsRefusedBeforeLoading()
    {
        var (code, _, stderr) = CliRunner.Run([.. Run, "--device-memory", "1MiB"]);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr.Trim(), Does.StartWith("error: --device-memory 1.00 MiB is too small").And.Contain("every non-expert weight stays resident"));
    }

    [Test]
    public void WarmCountsOfAnotherModelAreRefusedBeforeLoading()
    {
        using var temp = new TempFolder();
        string counts = Path.Combine(temp.Path, "counts.json");
        new ExpertRoutingCounts(4, 32, [.. Enumerable.Range(0, 4).Select(_ => new long[32])]).Save(counts);
        var (code, _, stderr) = CliRunner.Run([.. Run, "--device-memory", "2.8MiB", "--warm-experts", counts]);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("routing counts are for 4 layers x 32 experts; this model has 8 x 32"));
    }

    private static string Tokens(string stdout) => stdout.Split('\n').Single(l => l.StartsWith("output", StringComparison.Ordinal));
}
