using NUnit.Framework;
using Qwen3Next.Checkpoint;
using Qwen3Next.Tokenization;

namespace Qwen3Next.Tests.Tokenization;

/// <summary>Known ids, the four classes where Microsoft.ML.Tokenizers disagreed with Hugging Face (expected ids from
/// HF's Rust tokenizers and transformers.js, which agree), decoding and misuse.</summary>
public sealed class QwenTokenizerTests
{
    private static QwenTokenizer Tokenizer => RealTokenizer.Get();

    [Test]
    public void EncodesKnownIds() => Assert.That(Tokenizer.Encode("Hello world"), Is.EqualTo(new[] { 9707, 1879 }));

    [Test]
    public void SpecialTokensMapToTheirIds()
    {
        Assert.That(Tokenizer.Encode("<|im_start|>user"), Is.EqualTo(new[] { 151644, 872 }));
        Assert.That(Tokenizer.SpecialTokens["<|endoftext|>"], Is.EqualTo(151643));
        Assert.That(Tokenizer.SpecialTokens["<|im_end|>"], Is.EqualTo(151645));
        Assert.That(Tokenizer.AddedTokens["<think>"], Is.EqualTo(151667));
        Assert.That(Tokenizer.SpecialTokens.ContainsKey("<think>"), Is.False, "<think> is an added token, not a special one, in Qwen3");
        Assert.That(Tokenizer.VocabularySize, Is.EqualTo(151669));
    }

    // Microsoft.ML.Tokenizers' regex saw a supplementary-plane letter as two non-letters, splitting the contraction.
    [TestCase("𝐀's", new[] { 146527, 594 })]
    [TestCase("𐐀'll", new[] { 123934, 238, 222, 3278 })]
    public void ContractionAfterASupplementaryLetter(string text, int[] ids) => Assert.That(Tokenizer.Encode(text), Is.EqualTo(ids));

    // ... and a supplementary digit as two non-digits, so the space joined it.
    [TestCase(" 𝟎", new[] { 220, 56252, 253, 236 })]
    [TestCase("x 𝟎1", new[] { 87, 220, 56252, 253, 236, 16 })]
    public void SpaceBeforeASupplementaryDigit(string text, int[] ids) => Assert.That(Tokenizer.Encode(text), Is.EqualTo(ids));

    // The whole text was NFC-normalised before special tokens were matched, so '>' + U+0338 became '≯'.
    [TestCase("<think>\u0338", new[] { 151667, 136, 116 })]
    [TestCase("<|im_end|>\u0338x", new[] { 151645, 136, 116, 87 })]
    public void SpecialTokenFollowedByACombiningMark(string text, int[] ids) => Assert.That(Tokenizer.Encode(text), Is.EqualTo(ids));

    // Microsoft.ML.Tokenizers threw on the noncharacter.
    [TestCase("a\uFFFEb", new[] { 64, 5564, 122, 65 })]
    [TestCase("\uFFFE", new[] { 5564, 122 })]
    public void NoncharacterUFFFE(string text, int[] ids) => Assert.That(Tokenizer.Encode(text), Is.EqualTo(ids));

    [Test]
    public void EmptyTextHasNoIds() => Assert.That(Tokenizer.Encode(""), Is.Empty);

    // Built at run time: a lone surrogate in an attribute's string would be stored as U+FFFD.
    [TestCase("a", 0xD800, "b")]
    [TestCase("", 0xDC00, "")]
    [TestCase("ok", 0xD83D, "")]
    [TestCase("\U0001D400", 0xDC00, "x")]
    public void ALoneSurrogateIsRefusedWithItsIndex(string before, int surrogate, string after)
    {
        string text = before + (char)surrogate + after;
        int index = before.Length;
        var e = Assert.Throws<ArgumentException>(() => Tokenizer.Encode(text))!;
        Assert.That(e.Message, Does.Contain($"at index {index}"));
    }

    [TestCase("Qwen3-Next is a hybrid of Gated DeltaNet and gated attention.")]
    [TestCase("  leading spaces, tabs\tand\nnewlines\r\n")]
    [TestCase("数字 12345 и кириллица, emoji 🚀, café")]
    [TestCase("<|im_start|>user\nhi<|im_end|>\n<think>\u0338")]
    public void RoundTrips(string text) => Assert.That(Tokenizer.Decode(Tokenizer.Encode(text)), Is.EqualTo(text));

    [Test]
    public void DecodeCanLeaveSpecialTokensOut()
    {
        var ids = Tokenizer.Encode("<|im_start|>assistant\n<think>\n\n</think>\n\nHi<|im_end|>");
        Assert.That(Tokenizer.Decode(ids, skipSpecialTokens: true), Is.EqualTo("assistant\n<think>\n\n</think>\n\nHi"));
    }

    [Test]
    public void APartialCharacterDecodesToTheReplacementCharacter()
    {
        var ids = Tokenizer.Encode(" 𝟎");
        Assert.That(Tokenizer.Decode(ids.Take(2)), Is.EqualTo(" \uFFFD"));
        Assert.That(Tokenizer.Decode(ids), Is.EqualTo(" 𝟎"));
    }

    [TestCase(-1)]
    [TestCase(151669)]
    public void DecodingAnUnknownIdNamesIt(int id)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.Decode([9707, id]))!;
        Assert.That(e.Message, Does.Contain($"Token id {id}"));
    }

    [Test]
    public void NumbersSplitIntoSingleDigits() => Assert.That(Tokenizer.Encode("2026"), Has.Length.EqualTo(4));

    [Test]
    public void ANonTokenizerFileIsACheckpointError()
    {
        string path = System.IO.Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}, \"decoder\": {\"type\": \"Metaspace\"}}");
            Assert.That(() => QwenTokenizer.Load(path), Throws.InstanceOf<CheckpointException>().With.Message.Contains("only byte-level BPE"));
            File.WriteAllText(path, "not json");
            Assert.That(() => QwenTokenizer.Load(path), Throws.InstanceOf<CheckpointException>().With.Message.Contains("not a usable tokenizer.json"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
