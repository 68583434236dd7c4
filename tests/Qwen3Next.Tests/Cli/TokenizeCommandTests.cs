using System.Text.Json;
using NUnit.Framework;
using Qwen3Next.Tests.Checkpoint;
using Qwen3Next.Tests.Tokenization;

namespace Qwen3Next.Tests.Cli;

/// <summary><c>kernels tokenize</c> and <c>kernels run --chat</c> with the real Qwen3 tokenizer.</summary>
public sealed class TokenizeCommandTests
{
    private static string Tokenizer
    {
        get
        {
            RealTokenizer.Get();
            return RealTokenizer.Path!;
        }
    }

    [Test]
    public void JsonlReproducesTheParityCorpus()
    {
        using var temp = new TempFolder();
        string corpus = Path.Combine(temp.Path, "qwen3-parity.jsonl");
        File.WriteAllLines(corpus, RealTokenizer.ParityLines());
        var (code, stdout, stderr) = CliRunner.Run("tokenize", "--tokenizer", Tokenizer, "--jsonl", corpus);
        Assert.That(code, Is.Zero, stderr);
        var expected = File.ReadLines(corpus).Select(line => JsonDocument.Parse(line).RootElement.GetProperty("ids").GetRawText().Replace(" ", "")).ToList();
        Assert.That(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(expected));
    }

    [Test]
    public void JsonlTakesStringsAndObjectsAndNamesABadLine()
    {
        using var temp = new TempFolder();
        string input = Path.Combine(temp.Path, "in.jsonl");
        File.WriteAllLines(input, ["\"Hello world\"", "{\"text\": \"<|im_end|>\", \"id\": 7}"]);
        var (code, stdout, _) = CliRunner.Run("tokenize", "--tokenizer", Tokenizer, "--jsonl", input);
        Assert.That(code, Is.Zero);
        Assert.That(stdout, Is.EqualTo("[9707,1879]\n[151645]\n"));

        File.AppendAllLines(input, ["42"]);
        (code, stdout, var stderr) = CliRunner.Run("tokenize", "--tokenizer", Tokenizer, "--jsonl", input);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("in.jsonl:3: not a JSON string"));
        Assert.That(stdout, Is.Empty, "nothing is printed half-way");
    }

    [Test]
    public void TextPrintsOneArray()
    {
        var (code, stdout, stderr) = CliRunner.Run("tokenize", "--tokenizer", Tokenizer, "--text", "𝐀's");
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Is.EqualTo("[146527,594]\n"));
    }

    /// <summary>--chat/--system/--thinking and --messages give the ids of what the Jinja template renders.</summary>
    [Test]
    public void ChatGivesTheIdsOfTheTemplatesRendering()
    {
        var cases = JsonSerializer.Deserialize<List<ChatTemplateTests.Conversation>>(File.ReadAllText(Path.Combine(RealTokenizer.DataFolder, "qwen3-chat.json")))!;
        var offCase = cases.Single(c => c.Name == "system and user, thinking off");
        var (code, stdout, stderr) = CliRunner.Run("tokenize", "--tokenizer", Tokenizer, "--chat", "Hello!", "--system", "You are a helpful assistant.",
            "--thinking", "off", "--print-prompt");
        Assert.That(code, Is.Zero, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(JsonSerializer.Deserialize<string>(lines[0]), Is.EqualTo(offCase.Rendered));
        Assert.That(lines[1], Is.EqualTo($"[{string.Join(',', offCase.Ids)}]"));

        using var temp = new TempFolder();
        foreach (var c in cases.Where(c => c.AddGenerationPrompt))
        {
            string file = Path.Combine(temp.Path, "conversation.json");
            File.WriteAllText(file, JsonSerializer.Serialize(c.Messages));
            string[] thinking = c.EnableThinking is { } on ? ["--thinking", on ? "on" : "off"] : [];
            (code, stdout, stderr) = CliRunner.Run(["tokenize", "--tokenizer", Tokenizer, "--messages", file, .. thinking]);
            Assert.That(code, Is.Zero, stderr);
            Assert.That(stdout, Is.EqualTo($"[{string.Join(',', c.Ids)}]\n"), c.Name);
        }
    }

    [TestCase(new[] { "tokenize", "--text", "x" }, "Give --model DIR")]
    [TestCase(new[] { "tokenize", "--tokenizer", "TOKENIZER" }, "exactly one of --text, --jsonl, --chat or --messages")]
    [TestCase(new[] { "tokenize", "--tokenizer", "TOKENIZER", "--text", "x", "--system", "s" }, "--system and --thinking go with --chat")]
    [TestCase(new[] { "tokenize", "--tokenizer", "TOKENIZER", "--chat", "x", "--thinking", "maybe" }, "maybe")]
    public void MisuseIsOneLineAndExitCode2(string[] args, string message)
    {
        var (code, _, stderr) = CliRunner.Run(args.Select(a => a == "TOKENIZER" ? Tokenizer : a).ToArray());
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain(message));
    }

    [Test]
    public void ChatOnAModelWithoutATokenizerSaysSo()
    {
        var (code, _, stderr) = CliRunner.Run("run", "--model", GoldenData.TinyModel, "--chat", "Hi");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("has no tokenizer.json").And.Contain("--tokenizer FILE"));
    }

    /// <summary>The tiny model has 512 ids; the real tokenizer's chat markers are far beyond them.</summary>
    [Test]
    public void ChatWithATokenizerOfAnotherCheckpointIsRefusedBeforeLoading()
    {
        var (code, _, stderr) = CliRunner.Run("run", "--model", GoldenData.TinyModel, "--tokenizer", Tokenizer, "--chat", "Hi", "--thinking", "off");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("has id 151644, outside the model's vocabulary of 512 ids").And.Contain("does not belong to this checkpoint"));
    }
}
