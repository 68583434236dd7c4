using System.Text.Json;
using NUnit.Framework;
using Qwen3Next.Checkpoint;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Cli;

/// <summary><c>kernels plan</c> on the real 80B config from a folder holding only config.json and the shard index.</summary>
public sealed class PlanCommandTests
{
    private static void WriteRealModelFolder(string folder, Func<string, bool>? keep = null, IEnumerable<string>? extra = null)
    {
        File.WriteAllText(Path.Combine(folder, "config.json"), PublishedConfig.Json);
        var names = WeightNames.Expected(ModelConfig.Parse(PublishedConfig.Json, "config.json")).Select(s => s.Name)
            .Where(keep ?? (_ => true)).Concat(extra ?? ["mtp.fc.weight"]);
        var map = names.ToDictionary(n => n, n => n.Contains(".mlp.experts.", StringComparison.Ordinal) ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors");
        File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"),
            JsonSerializer.Serialize(new { metadata = new { total_size = 159_348_782_592 }, weight_map = map }));
    }

    [Test]
    public void PlansTheRealModelFromConfigAndIndex()
    {
        using var temp = new TempFolder();
        WriteRealModelFolder(temp.Path);
        var (code, stdout, stderr) = CliRunner.Run("plan", "--model", temp.Path, "--device-memory", "40GiB");
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("lists all 74,391 tensors").And.Contain("CLOCK with use counters").And.Contain("tokens/s"));
        Assert.That(stdout, Does.Contain("148.41 GiB in all"));
    }

    /// <summary>The issue's question: the 80B model in 130 GiB on one H200 — resident bytes, slots, bytes per token at a
    /// stated hit rate, the modeled kernel time per token, the decode bound and the HBM floor of a resident model.</summary>
    [Test]
    public void PlansTheRealModelIn130GiBWithTheDecodeBound()
    {
        using var temp = new TempFolder();
        File.WriteAllText(Path.Combine(temp.Path, "config.json"), PublishedConfig.Json);
        var (code, stdout, stderr) = CliRunner.Run("plan", "--model", temp.Path, "--device-memory", "130GiB");
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("resident         4.41 GiB").And.Contain("21358 slots x 6.00 MiB"));
        Assert.That(stdout, Does.Contain("288.00 MiB copied from host at hit rate 90 %"));
        Assert.That(stdout, Does.Match(@"decode kernels   \d+ µs per token by the H200 model"));
        Assert.That(stdout, Does.Match(@"decode bound     [\d.]+ tokens/s with copies overlapping the kernels, [\d.]+ tokens/s with every copy on the critical path; HBM floor of the same reads: 603 tokens/s"));
    }

    [Test]
    public void AnIndexMissingATensorIsReported()
    {
        using var temp = new TempFolder();
        WriteRealModelFolder(temp.Path, keep: n => n != "model.layers.7.self_attn.o_proj.weight");
        var (code, _, stderr) = CliRunner.Run("plan", "--model", temp.Path);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("model.layers.7.self_attn.o_proj.weight").And.Contain("model.safetensors.index.json"));
    }

    [Test]
    public void TooSmallABudgetIsOneClearLine()
    {
        using var temp = new TempFolder();
        WriteRealModelFolder(temp.Path);
        var (code, _, stderr) = CliRunner.Run("plan", "--model", temp.Path, "--device-memory", "3GiB");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr.Trim(), Does.StartWith("error: --device-memory 3.00 GiB is too small"));
        Assert.That(stderr.Trim().Split('\n'), Has.Length.EqualTo(1));
    }

    /// <summary>The fast precision's bf16 KV cache halves the cache part of the state: 12 attention layers x 2 x 2 KV heads
    /// x 256 x 65,536 tokens is 3.00 GiB in fp32 and 1.50 GiB in bf16; the linear states are the same.</summary>
    [Test]
    public void FastPrecisionSizesABf16KvCache()
    {
        using var temp = new TempFolder();
        File.WriteAllText(Path.Combine(temp.Path, "config.json"), PublishedConfig.Json);
        string State(string precision)
        {
            var (code, stdout, stderr) = CliRunner.Run("plan", "--model", temp.Path, "--max-tokens", "65536", "--precision", precision);
            Assert.That(code, Is.Zero, stderr);
            return stdout.Split('\n').Single(l => l.StartsWith("state", StringComparison.Ordinal));
        }

        string exact = State("exact"), fast = State("fast");
        Assert.That(exact, Does.Contain("fp32 KV cache"));
        Assert.That(fast, Does.Contain("bf16 KV cache"));
        double Gib(string line) => double.Parse(System.Text.RegularExpressions.Regex.Match(line, @"state\s+([\d.]+) GiB").Groups[1].Value,
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(Gib(exact) - Gib(fast), Is.EqualTo(1.5).Within(0.01));
    }
}
