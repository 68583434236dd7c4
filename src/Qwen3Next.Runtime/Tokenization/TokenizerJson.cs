using System.Text.Json;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Tokenization;

/// <summary>What decoding needs from a Hugging Face <c>tokenizer.json</c>: every id's token string, which ids are added
/// tokens (decoded as their literal content) and which of those are special. Encoding is left to HF's own code.</summary>
internal sealed class TokenizerJson
{
    private TokenizerJson(string?[] tokens, Dictionary<int, bool> added, Dictionary<string, int> byContent, Dictionary<string, int> special)
    {
        Tokens = tokens;
        AddedTokens = added;
        AddedTokenIds = byContent;
        SpecialTokens = special;
    }

    /// <summary>The token string of each id (byte-level characters for the BPE vocabulary); null for unused ids.</summary>
    public string?[] Tokens { get; }

    /// <summary>Added tokens by id, with whether each is special.</summary>
    public IReadOnlyDictionary<int, bool> AddedTokens { get; }

    /// <summary>Every added token's id by content, special or not (<c>&lt;think&gt;</c> is not special in Qwen3).</summary>
    public IReadOnlyDictionary<string, int> AddedTokenIds { get; }

    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    public static TokenizerJson Parse(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            var model = root.GetProperty("model");
            string type = model.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "BPE";
            string decoder = root.TryGetProperty("decoder", out var d) && d.ValueKind == JsonValueKind.Object ? d.GetProperty("type").GetString() ?? "" : "";
            if (type != "BPE" || decoder != "ByteLevel")
            {
                throw new CheckpointException($"a '{type}' model with a '{decoder}' decoder is not supported; only byte-level BPE (the Qwen family) is.", path);
            }

            var byId = new Dictionary<int, string>();
            foreach (var entry in model.GetProperty("vocab").EnumerateObject())
            {
                byId[Id(entry.Value, path)] = entry.Name;
            }

            var added = new Dictionary<int, bool>();
            var byContent = new Dictionary<string, int>(StringComparer.Ordinal);
            var special = new Dictionary<string, int>(StringComparer.Ordinal);
            if (root.TryGetProperty("added_tokens", out var list))
            {
                foreach (var token in list.EnumerateArray())
                {
                    int id = Id(token.GetProperty("id"), path);
                    string content = token.GetProperty("content").GetString()!;
                    bool isSpecial = token.TryGetProperty("special", out var s) && s.GetBoolean();
                    byId[id] = content;
                    added[id] = isSpecial;
                    byContent[content] = id;
                    if (isSpecial)
                    {
                        special[content] = id;
                    }
                }
            }

            var tokens = new string?[byId.Keys.Max() + 1];
            foreach (var (id, token) in byId)
            {
                tokens[id] = token;
            }

            return new TokenizerJson(tokens, added, byContent, special);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new CheckpointException($"not a usable tokenizer.json: {e.Message}", path, inner: e);
        }
    }

    private static int Id(JsonElement value, string path) =>
        value.GetInt32() is int id and >= 0 ? id : throw new CheckpointException($"token id {value} is negative.", path);
}
