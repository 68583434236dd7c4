using System.Text.Json;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Tokenization;

/// <summary>
/// A checkpoint's chat template (<c>chat_template</c> in <c>tokenizer_config.json</c>). No Jinja engine for .NET is
/// served, so the prompt is formatted by <see cref="Qwen3ChatFormat"/>, a line-by-line implementation of the Qwen3
/// template checked character for character against what the Jinja template renders. <see cref="IsQwen3"/> says whether
/// the checkpoint's template is exactly that one; any other ChatML template (<c>&lt;|im_start|&gt;role\n…&lt;|im_end|&gt;</c>)
/// is formatted the Qwen3 way too, and callers should say so.
/// </summary>
public sealed class ChatTemplate
{
    public const string ConfigFileName = "tokenizer_config.json";

    /// <summary>The Qwen3 template's text as Qwen3's tokenizer_config.json has it (Tokenization/Qwen3ChatTemplate.jinja).</summary>
    private static readonly Lazy<string> Qwen3Source = new(() =>
    {
        using var stream = typeof(ChatTemplate).Assembly.GetManifestResourceStream("tokenization/Qwen3ChatTemplate.jinja")!;
        return new StreamReader(stream).ReadToEnd();
    });

    private ChatTemplate(string source, IReadOnlyList<int> endOfTurn)
    {
        Source = source;
        EndOfTurnTokens = endOfTurn;
        IsQwen3 = source == Qwen3Source.Value;
    }

    /// <summary>The Jinja text of the checkpoint's template.</summary>
    public string Source { get; }

    /// <summary>True when the checkpoint's template is exactly the Qwen3 template this formatter implements.</summary>
    public bool IsQwen3 { get; }

    /// <summary>Tokens that end an assistant turn: <c>&lt;|im_end|&gt;</c> and <c>&lt;|endoftext|&gt;</c>.</summary>
    public IReadOnlyList<int> EndOfTurnTokens { get; }

    /// <summary>The template of a tokenizer_config.json; <paramref name="addedTokens"/> gives the end-of-turn ids.</summary>
    public static ChatTemplate Load(string configPath, IReadOnlyDictionary<string, int> addedTokens)
    {
        string source;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(configPath));
            source = doc.RootElement.TryGetProperty("chat_template", out var t) && t.ValueKind == JsonValueKind.String
                ? t.GetString()!
                : throw new CheckpointException("has no chat_template string.", configPath);
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"not valid JSON: {e.Message}", configPath, inner: e);
        }

        if (!source.Contains("<|im_start|>", StringComparison.Ordinal) || !source.Contains("<|im_end|>", StringComparison.Ordinal))
        {
            throw new CheckpointException("its chat_template is not a ChatML (<|im_start|>role … <|im_end|>) template; only Qwen's is implemented.", configPath);
        }

        var endOfTurn = new[] { "<|im_end|>", "<|endoftext|>" }.Where(addedTokens.ContainsKey).Select(t => addedTokens[t]).ToArray();
        return endOfTurn.Length > 0
            ? new ChatTemplate(source, endOfTurn)
            : throw new CheckpointException("the tokenizer has no <|im_end|> token to end a turn.", configPath);
    }

    /// <summary>The prompt text for <paramref name="messages"/>; see <see cref="Qwen3ChatFormat.Render"/>.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true, bool? enableThinking = null) =>
        Qwen3ChatFormat.Render(messages, addGenerationPrompt, enableThinking);
}
