using System.Text.Json;
using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Conformance;
using Qwen3Next.Graph;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Cli;

/// <summary><c>kernels run --prompts-file FILE --max-batch N</c>: each prompt's output, in file order, equals a greedy run of
/// that prompt alone; the JSON is a list of <c>prompt_ids</c>/<c>generated_ids</c> objects in file order.</summary>
public sealed class RunBatchCliTests
{
    [Test]
    public void APromptsFileRunsBatchedAndEachPromptGetsItsOwnTokens()
    {
        int[][] prompts = [[1, 2, 3], [300, 4], [7], [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]];
        var golden = GoldenPrompt();
        prompts = [.. prompts, golden];
        using var temp = new TempFolder();
        string file = temp.File("prompts.txt"), json = temp.File("out.json");
        File.WriteAllLines(file, prompts.Select((p, i) => (i == 1 ? " " : string.Empty) + string.Join(i == 2 ? ", " : ",", p)).Prepend(string.Empty));

        var (code, stdout, stderr) = CliRunner.Run("run", "--model", GoldenData.TinyModel, "--prompts-file", file, "--max-batch", "2", "-n", "5",
            "--prefill-chunk", "4", "--json", json);
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("25 tokens generated for 5 prompts").And.Contain("up to 2 sequences at once").And.Contain("tokens/s"));

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var entries = doc.RootElement.EnumerateArray().ToArray();
        Assert.That(entries, Has.Length.EqualTo(prompts.Length));
        using var checkpoint = QwenCheckpoint.Open(GoldenData.TinyModel);
        using var model = Qwen3NextModel.Load(TestBackends.Get("reference"), checkpoint);
        for (int i = 0; i < prompts.Length; i++)
        {
            var alone = Generator.Generate(model, prompts[i], 5, SamplingOptions.Greedy);
            Assert.That(entries[i].GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(prompts[i]), $"prompt {i}");
            Assert.That(entries[i].GetProperty("generated_ids").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(alone.GeneratedIds), $"prompt {i}");
            Assert.That(stdout, Does.Contain($"[{i}] {prompts[i].Length} prompt tokens → [{string.Join(',', alone.GeneratedIds)}]"));
        }

        Assert.That(entries[^1].GetProperty("generated_ids").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(new[] { 301, 471, 365, 298, 382 }),
            "the golden prompt gives the golden greedy tokens in a batch too");
    }

    private static int[] GoldenPrompt()
    {
        using var golden = GoldenFile.Open(Path.Combine(GoldenData.TinyModel, ConformanceRunner.ModelGoldenFile));
        return golden.I64("input_ids").Select(v => (int)v).ToArray();
    }
}
