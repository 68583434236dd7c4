using System.Text.Json;
using NUnit.Framework;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Cli;

/// <summary>The command line as a user meets it: exit codes, one-line errors, JSON outputs.</summary>
public sealed class CliTests
{
    private static string Kernels => Path.Combine(TestBackends.DataRoot, "kernels");

    [Test]
    public void VerifyPassesAGoldenCaseAndWritesJson()
    {
        using var temp = new TempFolder();
        string json = Path.Combine(temp.Path, "verify.json");
        var (code, stdout, _) = CliRunner.Run("verify", Path.Combine(Kernels, "moe_E64_k10.safetensors"), "--json", json);
        Assert.That(code, Is.Zero, stdout);
        Assert.That(stdout, Does.Contain("pass  moe_E64_k10").And.Contain("0 failed"));
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.That(doc.RootElement.GetProperty("checks").GetArrayLength(), Is.EqualTo(4));
    }

    [Test]
    public void VerifyFailsWhenAnExpectedOutputIsWrong()
    {
        using var temp = new TempFolder();
        string path = Path.Combine(temp.Path, "moe_tampered.safetensors");
        var tensors = GoldenData.ReadAll(Path.Combine(Kernels, "moe_E64_k10.safetensors"), out var metadata);
        var output = tensors.Single(t => t.Name == "output");
        output.Data[3] ^= 0x40; // flip an exponent bit of the first expected value (little-endian: byte 3 holds it)
        SafeTensorsWriter.Write(path, tensors, metadata);

        var (code, stdout, _) = CliRunner.Run("verify", path);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stdout, Does.Contain("FAIL  moe_E64_k10").And.Contain("output"));
    }

    [Test]
    public void VerifyReportsAnUnreadableFileAndFails()
    {
        using var temp = new TempFolder();
        string path = Path.Combine(temp.Path, "broken.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        var (code, stdout, _) = CliRunner.Run("verify", path);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stdout, Does.Contain("broken.safetensors"));
    }

    [Test]
    public void RunReproducesTheGoldenGreedyTokensAndWritesJson()
    {
        using var temp = new TempFolder();
        string json = Path.Combine(temp.Path, "run.json");
        var (code, stdout, stderr) = CliRunner.Run("run", "--model", GoldenData.TinyModel, "--max-new-tokens", "9", "--json", json);
        Assert.That(code, Is.Zero, stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var generated = doc.RootElement.GetProperty("generated_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.That(generated, Is.EqualTo(new[] { 301, 471, 365, 298, 382, 76, 304, 434, 332 }));
        Assert.That(doc.RootElement.GetProperty("prompt_ids").GetArrayLength(), Is.EqualTo(40));
        Assert.That(doc.RootElement.GetProperty("tokens_per_second").GetDouble(), Is.GreaterThan(0));
        Assert.That(stdout, Does.Contain("tokens/s"));
    }

    [Test]
    public void RunOnAMalformedCheckpointPrintsOneLineAndExitsNonZero()
    {
        using var temp = new TempFolder();
        GoldenData.WriteTinyModelCopy(temp.Path, editConfig: c => c["hidden_size"] = 256);
        var (code, stdout, stderr) = CliRunner.Run("run", "--model", temp.Path);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr.Trim().Split('\n'), Has.Length.EqualTo(1), stderr);
        Assert.That(stderr, Does.StartWith("error: ").And.Contain("hidden_size"));
        Assert.That(stderr, Does.Not.Contain("   at "));
        Assert.That(stdout, Is.Empty);
    }

    [Test]
    public void VerboseAddsTheStackTrace()
    {
        var (code, _, stderr) = CliRunner.Run("run", "--model", "/nonexistent/model", "--verbose");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("   at "));
    }

    [TestCase("--prompt-ids", "1,x,3", "not a token id")]
    [TestCase("--prompt-ids", "1,99999", "outside the vocabulary")]
    [TestCase("--temperature", "-1", "temperature")]
    public void RunRejectsBadArguments(string option, string value, string message)
    {
        var (code, _, stderr) = CliRunner.Run("run", "--model", GoldenData.TinyModel, option, value);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain(message));
    }

    [Test]
    public void InspectSummarisesTheCheckpoint()
    {
        var (code, stdout, stderr) = CliRunner.Run("inspect", GoldenData.TinyModel);
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("881 tensors").And.Contain("BF16"));
    }

    [Test]
    public void RunTakesTextAndPrintsTextWithARealQwenTokenizer()
    {
        string? tokenizer = RepositoryFile.Find("artifacts/test-data/qwen3-tokenizer/tokenizer.json");
        if (tokenizer is null)
        {
            Assert.Ignore("Qwen3 tokenizer.json not present: run tools/fetch-test-data.sh (./build.sh test and CI do).");
        }

        using var temp = new TempFolder();
        foreach (var file in Directory.GetFiles(GoldenData.TinyModel))
        {
            File.Copy(file, Path.Combine(temp.Path, Path.GetFileName(file)));
        }

        File.Copy(tokenizer!, Path.Combine(temp.Path, "tokenizer.json"));

        // The tiny model has 512 tokens; this text encodes to ids below 512 with the real Qwen3 tokenizer.
        var (code, stdout, stderr) = CliRunner.Run("run", "--model", temp.Path, "--prompt", "x = 1; y = 2;", "-n", "4");
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("prompt   [87,284,220,16,26,379,284,220,17,26]").And.Contain("text     "));
    }
}
