using System.Text.Json;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace Qwen3Next.Tests.Tokenization;

/// <summary>
/// The parity corpus (tests/data/tokenizer/qwen3-parity.jsonl.gz, tools/tokenizer-reference): 3,003 varied strings whose
/// expected ids come from Hugging Face's JavaScript tokenizer, an implementation independent of the Rust one the
/// runtime binds. Every string must give exactly those ids, and decode back to its text.
/// </summary>
public sealed class TokenizerParityTests
{
    private static readonly Lazy<List<Entry>> Corpus = new(() => RealTokenizer.ParityLines()
        .Select(line => JsonSerializer.Deserialize<Entry>(line)!).ToList());

    [Test]
    public void TheCorpusCoversEveryClass()
    {
        Assert.That(Corpus.Value, Has.Count.GreaterThanOrEqualTo(2000));
        var classes = Corpus.Value.Select(e => e.Class).ToHashSet();
        Assert.That(classes, Is.SupersetOf(new[]
        {
            "prose", "code", "whitespace", "numbers", "contractions", "emoji", "combining", "nfc", "nfd", "controls", "special", "long", "supplementary", "random",
        }));
    }

    [Test]
    public void EveryStringGivesHuggingFacesIds()
    {
        var tokenizer = RealTokenizer.Get();
        var wrong = Corpus.Value.Where(e => !tokenizer.Encode(e.Text).SequenceEqual(e.Ids))
            .Select(e => $"{e.Class} {JsonSerializer.Serialize(e.Text)}: [{string.Join(',', tokenizer.Encode(e.Text))}] instead of [{string.Join(',', e.Ids)}]").ToList();
        Assert.That(wrong, Is.Empty, $"{wrong.Count} of {Corpus.Value.Count} strings differ");
    }

    /// <summary>Decoding gives the text back, normalised (NFC) between added tokens as HF normalises before BPE.</summary>
    [Test]
    public void EveryStringDecodesBackToItsNormalisedText()
    {
        var tokenizer = RealTokenizer.Get();
        var specials = new Regex(string.Join('|', tokenizer.AddedTokens.Keys.OrderByDescending(k => k.Length).Select(Regex.Escape)));
        string Normalised(string text)
        {
            var pieces = new List<string>();
            int at = 0;
            foreach (Match m in specials.Matches(text))
            {
                pieces.Add(Nfc(text[at..m.Index]));
                pieces.Add(m.Value);
                at = m.Index + m.Length;
            }

            pieces.Add(Nfc(text[at..]));
            return string.Concat(pieces);
        }

        var wrong = Corpus.Value.Where(e => tokenizer.Decode(e.Ids) != Normalised(e.Text)).Select(e => JsonSerializer.Serialize(e.Text)).ToList();
        Assert.That(wrong, Is.Empty);
    }

    /// <summary>NFC that passes noncharacters through: .NET refuses to normalise a string holding U+FFFE, while Unicode
    /// normalisation leaves it alone (a starter with no decomposition), so the runs between them are normalised apart.</summary>
    private static string Nfc(string text)
    {
        var runs = Regex.Split(text, "([\\uFFFE\\uFFFF\\uFDD0-\\uFDEF]|[\\uD83F\\uD87F\\uD8BF\\uD8FF\\uD93F\\uD97F\\uD9BF\\uD9FF\\uDA3F\\uDA7F\\uDABF\\uDAFF\\uDB3F\\uDB7F\\uDBBF\\uDBFF][\\uDFFE\\uDFFF])");
        return string.Concat(runs.Select((run, i) => i % 2 == 1 ? run : run.Normalize(System.Text.NormalizationForm.FormC)));
    }

    private sealed record Entry(
        [property: System.Text.Json.Serialization.JsonPropertyName("class")] string Class,
        [property: System.Text.Json.Serialization.JsonPropertyName("text")] string Text,
        [property: System.Text.Json.Serialization.JsonPropertyName("ids")] int[] Ids);
}
