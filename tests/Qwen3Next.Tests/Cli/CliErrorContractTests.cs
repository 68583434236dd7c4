using System.Text.Json;
using NUnit.Framework;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Cli;

/// <summary>
/// The CLI's error contract, case by case: every error — parse errors and overflows included — is one line on
/// stderr starting with "error: " and exit code 2; a failed check is exit 1; JSON numbers are numbers or null.
/// </summary>
public sealed class CliErrorContractTests
{
    public static IEnumerable<TestCaseData> Errors()
    {
        string tiny = GoldenData.TinyModel;
        TestCaseData Case(string name, string message, params string[] args) => new TestCaseData(args, message).SetName(name);
        yield return Case("run -n 2147483647 overflows no counter", "max-new-tokens", "run", "--model", tiny, "-n", "2147483647");
        yield return Case("run -n 2000000000 needs more KV cache than a buffer holds", "bytes of KV cache", "run", "--model", tiny, "-n", "2000000000");
        yield return Case("run --device-memory 9999999TiB", "larger than any device memory", "run", "--model", tiny, "--device-memory", "9999999TiB");
        yield return Case("a value that does not parse", "Cannot parse argument 'abc'", "run", "-n", "abc");
        yield return Case("a number that does not fit an int", "Cannot parse argument '99999999999'", "run", "-n", "99999999999");
        yield return Case("an unknown option", "--no-such-option", "run", "--no-such-option");
        yield return Case("an unknown command", "frobnicate", "frobnicate");
        yield return Case("run --top-p NaN", "--top-p must be in (0, 1]", "run", "--top-p", "NaN");
        yield return Case("run --temperature NaN", "--temperature must be a finite number", "run", "--temperature", "NaN");
        yield return Case("run --temperature Infinity", "--temperature must be a finite number", "run", "--temperature", "Infinity");
        yield return Case("run --prefill-chunk -5", "--prefill-chunk must be at least 0", "run", "--prefill-chunk", "-5");
        yield return Case("run --top-k -1", "--top-k must be at least 0", "run", "--top-k", "-1");
        yield return Case("plan --hit-rate NaN", "--hit-rate must be in [0, 1]", "plan", "--hit-rate", "NaN");
        yield return Case("plan --h2d-gbps 0", "--h2d-gbps must be a finite number > 0", "plan", "--h2d-gbps", "0");
        yield return Case("bench --peak-tflops NaN", "--peak-tflops must be a finite number > 0", "bench", "--peak-tflops", "NaN");
        yield return Case("bench --iterations 0", "--iterations must be at least 1", "bench", "--iterations", "0");
        yield return Case("bench --ops with unknown names, before measuring anything", "unknown workload 'a'", "bench", "--ops", "a,b");
        yield return Case("profile --sample-ctas -5", "--sample-ctas must be ≥ 0", "profile", "--sample-ctas", "-5");
        yield return Case("run --precision bogus", "--precision must be one of exact, fast", "run", "--precision", "bogus");
        yield return Case("verify --precision fast on a backend without a fast mode", "has no fast precision mode", "verify", GoldenData.TinyModel,
            "--backend", "reference", "--precision", "fast");
        yield return Case("run on a model folder that does not exist", "config.json", "run", "--model", "/nonexistent/model");
    }

    [TestCaseSource(nameof(Errors))]
    public void AnErrorIsOneLineOnStderrAndExitCode2(string[] args, string message)
    {
        var (code, stdout, stderr) = CliRunner.Run(args);
        AssertOneLineError(code, stderr, message);
        if (args[0] == "bench")
        {
            Assert.That(stdout, Is.Empty, "nothing was measured");
        }
    }

    [Test]
    public void VerifyWithNoCaseFoundIsAnError()
    {
        using var temp = new TempFolder();
        var (code, _, stderr) = CliRunner.Run("verify", temp.Path);
        AssertOneLineError(code, stderr, "no golden cases");
    }

    [Test]
    public void VerifyJsonWritesNullForErrorsThatAreNotNumbers()
    {
        using var temp = new TempFolder();
        string broken = temp.File("broken.safetensors"), json = temp.File("verify.json");
        File.WriteAllBytes(broken, [1, 2, 3]);
        var (code, _, _) = CliRunner.Run("verify", broken, "--json", json);
        Assert.That(code, Is.EqualTo(1), "an unreadable case is a failed check");
        string text = File.ReadAllText(json);
        Assert.That(text, Does.Not.Contain("NaN"));
        var check = JsonDocument.Parse(text).RootElement.GetProperty("checks")[0];
        Assert.That(check.GetProperty("max_abs_error").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(check.GetProperty("passed").GetBoolean(), Is.False);
    }

    [Test]
    public void RunOnAModelWithANaNWeightStopsWithOneLineNamingTheStep()
    {
        using var temp = new TempFolder();
        WriteTinyModelWithNaN(temp.Path, "model.layers.1.mlp.gate.weight");
        var (code, _, stderr) = CliRunner.Run("run", "--model", temp.Path, "--prompt-ids", "1,2,3");
        AssertOneLineError(code, stderr, "Non-finite values at step 0");

        (code, _, stderr) = CliRunner.Run("run", "--model", temp.Path, "--prompt-ids", "1,2,3", "--check-activations");
        AssertOneLineError(code, stderr, "after layer 1 (");
    }

    [Test]
    public void InspectCheckNamesEveryNonFiniteTensorAndExits1()
    {
        using var temp = new TempFolder();
        WriteTinyModelWithNaN(temp.Path, "model.layers.3.post_attention_layernorm.weight");
        var (code, stdout, stderr) = CliRunner.Run("inspect", temp.Path, "--check");
        Assert.That(code, Is.EqualTo(1), stderr);
        Assert.That(stdout, Does.Contain("NON-FINITE  model.layers.3.post_attention_layernorm.weight: 1 of 128 values").And.Contain("check FAILED: 1 of 881"));

        (code, stdout, stderr) = CliRunner.Run("inspect", GoldenData.TinyModel, "--check");
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("check: all 881 floating-point tensors are finite"));
    }

    [Test]
    public void InspectAcceptsTheConfigOnlyFolderThatPlanAccepts()
    {
        if (RepositoryFile.Find("models/qwen3-next-80b-a3b/config.json") is not { } config)
        {
            Assert.Ignore("models/qwen3-next-80b-a3b is not beside these test binaries (a copied test pack).");
            return;
        }

        string folder = Path.GetDirectoryName(config)!;
        var (code, stdout, stderr) = CliRunner.Run("inspect", folder);
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("config only, no weights").And.Contain("48 layers").And.Contain("74,391 tensors"));
        (code, _, stderr) = CliRunner.Run("inspect", folder, "--check");
        AssertOneLineError(code, stderr, "no weights to check");
    }

    [Test]
    public void RunPrintsTheGeneratedTokens()
    {
        var (code, stdout, stderr) = CliRunner.Run("run", "--model", GoldenData.TinyModel);
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("output   [301,471,365,298,382,76,304,434]\n"));
    }

    private static void AssertOneLineError(int code, string stderr, string message)
    {
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr.TrimEnd().Split('\n'), Has.Length.EqualTo(1), stderr);
        Assert.That(stderr, Does.StartWith("error: ").And.Contain(message));
        Assert.That(stderr, Does.Not.Contain("   at "));
    }

    private static void WriteTinyModelWithNaN(string folder, string tensor) => GoldenData.WriteTinyModelCopy(folder, tensors =>
        BitConverter.TryWriteBytes(tensors.Single(t => t.Name == tensor).Data.AsSpan(2, 2), Bf16.FromFloat(float.NaN)));
}
