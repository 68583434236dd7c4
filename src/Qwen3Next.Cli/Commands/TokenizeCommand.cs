using System.CommandLine;
using System.Text;
using System.Text.Json;
using Qwen3Next.Tokenization;

namespace Qwen3Next.Cli.Commands;

/// <summary><c>kernels tokenize</c>: token ids of a text, of every line of a JSONL file, or of a chat prompt, as JSON
/// arrays so other tools can compare them with their own tokenizer's.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo?>("--model", "-m") { Description = "Model folder whose tokenizer.json to use." };
        var text = new Option<string?>("--text", "-t") { Description = "Text to tokenize: prints one JSON array of ids." };
        var jsonl = new Option<FileInfo?>("--jsonl") { Description = "A file of JSON strings (or objects with a \"text\" field), one a line: prints one array of ids a line, in order." };
        var messages = new Option<FileInfo?>("--messages") { Description = "A conversation (JSON array of {\"role\", \"content\"}) to format with the chat template." };
        var printPrompt = new Option<bool>("--print-prompt") { Description = "With --chat or --messages, print the formatted prompt (a JSON string) on the line before its ids." };
        var chat = new ChatOptions();
        var command = new Command("tokenize", "Token ids as Hugging Face's tokenizer gives them, from --model DIR or --tokenizer FILE.")
        {
            model, text, jsonl, messages, printPrompt,
        };
        foreach (var option in chat.All)
        {
            command.Options.Add(option);
        }

        command.SetAction(parse => CommandGuard.Run(parse, () =>
        {
            string? folder = parse.GetValue(model)?.FullName;
            if (folder is null && parse.GetValue(chat.Tokenizer) is null)
            {
                throw new ArgumentException("Give --model DIR (a folder with tokenizer.json) or --tokenizer FILE.");
            }

            var conversation = chat.Conversation(parse, conversationFile: parse.GetValue(messages) is not null);
            if (parse.GetValue(messages) is { } file)
            {
                conversation = conversation is null ? ChatOptions.ReadConversation(file.FullName) : throw new ArgumentException("Give --chat or --messages, not both.");
            }

            int sources = (parse.GetValue(text) is null ? 0 : 1) + (parse.GetValue(jsonl) is null ? 0 : 1) + (conversation is null ? 0 : 1);
            if (sources != 1)
            {
                throw new ArgumentException("Give exactly one of --text, --jsonl, --chat or --messages.");
            }

            var tokenizer = chat.LoadTokenizer(parse, folder) ?? throw new NotSupportedException($"{folder} has no tokenizer.json; pass --tokenizer FILE.");
            var lines = new List<string>();
            if (parse.GetValue(text) is { } t)
            {
                lines.Add(Ids(tokenizer.Encode(t)));
            }
            else if (parse.GetValue(jsonl) is { } input)
            {
                lines.AddRange(ReadTexts(input.FullName).Select(s => Ids(tokenizer.Encode(s))));
            }
            else
            {
                string prompt = ChatOptions.Format(tokenizer, conversation!, chat.EnableThinking(parse), folder ?? tokenizer.Path);
                if (parse.GetValue(printPrompt))
                {
                    lines.Add(JsonSerializer.Serialize(prompt, ReadableJson));
                }

                lines.Add(Ids(tokenizer.Encode(prompt)));
            }

            // Everything is tokenized before anything is printed: a bad line leaves no partial output.
            var stdout = new StringBuilder();
            lines.ForEach(line => stdout.Append(line).Append('\n'));
            Console.Out.Write(stdout.ToString());
            return 0;
        }));
        return command;
    }

    /// <summary>Escapes only what JSON requires, so a prompt's markup and scripts stay readable.</summary>
    private static readonly JsonSerializerOptions ReadableJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Ids(int[] ids) => $"[{string.Join(',', ids)}]";

    /// <summary>Each line's text: a JSON string, or an object's "text" string; any other line is an error naming it.</summary>
    private static IEnumerable<string> ReadTexts(string path)
    {
        int number = 0;
        var texts = new List<string>();
        foreach (string line in File.ReadLines(path))
        {
            number++;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                texts.Add(root.ValueKind == JsonValueKind.String ? root.GetString()!
                    : root.ValueKind == JsonValueKind.Object && root.TryGetProperty("text", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!
                    : throw new FormatException($"{path}:{number}: not a JSON string or an object with a \"text\" string."));
            }
            catch (JsonException e)
            {
                throw new FormatException($"{path}:{number}: not JSON ({e.Message}).", e);
            }
        }

        return texts;
    }
}
