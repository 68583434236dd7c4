using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Tokenization;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> of the Qwen family (byte-level BPE) on Microsoft.ML.Tokenizers:
/// NFC normalisation, the file's split regex as the pre-tokenizer, the added tokens as special tokens.
/// </summary>
public sealed class QwenTokenizer
{
    public const string FileName = "tokenizer.json";

    private readonly Tokenizer tokenizer;

    private QwenTokenizer(Tokenizer tokenizer, IReadOnlyDictionary<string, int> specialTokens)
    {
        this.tokenizer = tokenizer;
        SpecialTokens = specialTokens;
    }

    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>The tokenizer of a model folder, or null when it has no tokenizer.json.</summary>
    public static QwenTokenizer? TryLoadFromModel(string folder)
    {
        string path = Path.Combine(folder, FileName);
        return File.Exists(path) ? Load(path) : null;
    }

    public static QwenTokenizer Load(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            var model = root.GetProperty("model");
            string type = model.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "BPE";
            if (type != "BPE")
            {
                throw new CheckpointException($"model type '{type}' is not supported; only byte-level BPE (Qwen) is.", path);
            }

            var vocab = model.GetProperty("vocab").EnumerateObject().Select(p => new KeyValuePair<string, int>(p.Name, p.Value.GetInt32())).ToList();
            var merges = model.GetProperty("merges").EnumerateArray()
                .Select(m => m.ValueKind == JsonValueKind.Array ? $"{m[0].GetString()} {m[1].GetString()}" : m.GetString()!).ToList();
            var special = new Dictionary<string, int>(StringComparer.Ordinal);
            if (root.TryGetProperty("added_tokens", out var added))
            {
                foreach (var token in added.EnumerateArray())
                {
                    special[token.GetProperty("content").GetString()!] = token.GetProperty("id").GetInt32();
                }
            }

            var options = new BpeOptions(vocab)
            {
                Merges = merges,
                SpecialTokens = special,
                ByteLevel = true,
                PreTokenizer = new RegexPreTokenizer(new Regex(SplitPattern(root, path), RegexOptions.Compiled), special),
                Normalizer = new NfcNormalizer(),
            };
            return new QwenTokenizer(BpeTokenizer.Create(options), special);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
        {
            throw new CheckpointException($"not a usable tokenizer.json: {e.Message}", path, inner: e);
        }
    }

    public IReadOnlyList<int> Encode(string text) => tokenizer.EncodeToIds(text);

    public string Decode(IEnumerable<int> ids) => tokenizer.Decode(ids);

    /// <summary>The Split pre-tokenizer's regex (HF's <c>\p{L}</c>-style classes are valid .NET regex as they are).</summary>
    private static string SplitPattern(JsonElement root, string path)
    {
        var pre = root.GetProperty("pre_tokenizer");
        var candidates = pre.TryGetProperty("pretokenizers", out var list) ? list.EnumerateArray().ToList() : [pre];
        foreach (var step in candidates)
        {
            if (step.GetProperty("type").GetString() == "Split" && step.GetProperty("pattern").TryGetProperty("Regex", out var regex))
            {
                return regex.GetString()!;
            }
        }

        throw new CheckpointException("pre_tokenizer has no Split regex.", path);
    }

    private sealed class NfcNormalizer : Normalizer
    {
        public override string Normalize(string original) => original.Normalize(NormalizationForm.FormC);

        public override string Normalize(ReadOnlySpan<char> original) => original.ToString().Normalize(NormalizationForm.FormC);
    }
}
