using System.CommandLine;
using System.Text.Json;
using Qwen3Next.Tokenization;

namespace Qwen3Next.Cli;

/// <summary>
/// The chat options <c>run</c> and <c>tokenize</c> share: a user message (<c>--chat</c>) or a whole conversation
/// (<c>--messages FILE</c>, tokenize only), a system prompt and the thinking switch, formatted as the checkpoint's chat
/// template does (<see cref="ChatTemplate"/>), and where the tokenizer comes from.
/// </summary>
internal sealed class ChatOptions
{
    public Option<string?> Chat { get; } = new("--chat") { Description = "A user message, formatted with the checkpoint's chat template (tokenizer_config.json beside tokenizer.json)." };

    public Option<string?> System { get; } = new("--system") { Description = "System prompt for --chat." };

    public Option<string?> Thinking { get; } = new Option<string?>("--thinking")
    {
        Description = "on: the model may think first (the template's default); off: an empty think block makes it answer directly.",
    }.AcceptOnlyFromAmong("on", "off");

    public Option<FileInfo?> Tokenizer { get; } = new("--tokenizer") { Description = "A tokenizer.json to use instead of the model folder's." };

    public IEnumerable<Option> All => [Chat, System, Thinking, Tokenizer];

    /// <summary>The tokenizer of <c>--tokenizer</c>, else of the model folder, else null.</summary>
    public QwenTokenizer? LoadTokenizer(ParseResult parse, string? modelFolder) =>
        parse.GetValue(Tokenizer) is { } file ? QwenTokenizer.Load(file.FullName)
        : modelFolder is not null ? QwenTokenizer.TryLoadFromModel(modelFolder)
        : null;

    /// <summary>The conversation the options describe (system prompt, then the message), or null without --chat;
    /// <paramref name="conversationFile"/> says a conversation comes from elsewhere (tokenize --messages), which takes --thinking.</summary>
    public List<ChatMessage>? Conversation(ParseResult parse, bool conversationFile = false)
    {
        string? message = parse.GetValue(Chat);
        if (message is null)
        {
            if (parse.GetValue(System) is not null || (parse.GetValue(Thinking) is not null && !conversationFile))
            {
                throw new ArgumentException(conversationFile ? "--system goes with --chat." : "--system and --thinking go with --chat.");
            }

            return null;
        }

        var turns = new List<ChatMessage>();
        if (parse.GetValue(System) is { } system)
        {
            turns.Add(ChatMessage.System(system));
        }

        turns.Add(ChatMessage.User(message));
        return turns;
    }

    /// <summary>null when --thinking was not given (the template's default), else on = true.</summary>
    public bool? EnableThinking(ParseResult parse) => parse.GetValue(Thinking) is { } v ? v == "on" : null;

    /// <summary>The formatted prompt; warns on stderr when the checkpoint's template is not the Qwen3 one implemented.</summary>
    public static string Format(QwenTokenizer? tokenizer, IReadOnlyList<ChatMessage> conversation, bool? enableThinking, string where)
    {
        var template = (tokenizer ?? throw new NotSupportedException($"{where} has no tokenizer.json; chat needs the checkpoint's tokenizer: pass --tokenizer FILE."))
            .Chat ?? throw new NotSupportedException($"{tokenizer.Path}: no {ChatTemplate.ConfigFileName} beside it, so there is no chat template.");
        if (!template.IsQwen3)
        {
            Console.Error.WriteLine("warning: the checkpoint's chat template is not the Qwen3 template; the prompt is formatted the Qwen3 way.");
        }

        return template.Render(conversation, addGenerationPrompt: true, enableThinking);
    }

    /// <summary>A conversation file: a JSON array of {"role", "content"[, "reasoning_content"]} objects.</summary>
    public static List<ChatMessage> ReadConversation(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException($"{path}: a conversation is a JSON array of {{\"role\", \"content\"}} objects.");
        }

        return doc.RootElement.EnumerateArray().Select((m, i) => m.ValueKind == JsonValueKind.Object
                && m.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String
                && m.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String
            ? new ChatMessage(role.GetString()!, content.GetString()!,
                m.TryGetProperty("reasoning_content", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null)
            : throw new FormatException($"{path}: message {i} is not an object with string \"role\" and \"content\".")).ToList();
    }
}
