using Qwen3Next.Checkpoint;
using Qwen3Next.Tokenization;

namespace Qwen3Next.Cli.Commands;

/// <summary>
/// <c>--prompts-file</c>: one prompt per line, either comma-separated token ids (<c>1,2,3</c>) or text (encoded with the
/// model folder's tokenizer). Blank lines are skipped; every other line is a prompt, in file order. A line that is not
/// a prompt (an id outside the vocabulary, text without a tokenizer, text that encodes to nothing) is an error naming
/// the file and line.
/// </summary>
internal static class PromptsFile
{
    public static IReadOnlyList<int[]> Read(string path, ModelConfig config, QwenTokenizer? tokenizer)
    {
        var prompts = new List<int[]>();
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            prompts.Add(Parse(line, config, tokenizer) ?? throw new ArgumentException($"{path}:{number}: {Problem(line, config, tokenizer)}"));
        }

        return prompts.Count > 0 ? prompts : throw new ArgumentException($"{path} holds no prompt (one prompt per line: text or comma-separated ids).");
    }

    private static int[]? Parse(string line, ModelConfig config, QwenTokenizer? tokenizer)
    {
        if (IsIdList(line))
        {
            var ids = line.Split(',', StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
            return ids.All(id => id >= 0 && id < config.VocabSize) ? ids : null;
        }

        var encoded = tokenizer?.Encode(line).ToArray();
        return encoded is { Length: > 0 } ? encoded : null;
    }

    private static string Problem(string line, ModelConfig config, QwenTokenizer? tokenizer)
    {
        if (IsIdList(line))
        {
            string id = line.Split(',', StringSplitOptions.TrimEntries).First(s => int.Parse(s) < 0 || int.Parse(s) >= config.VocabSize);
            return $"token {id} is outside the vocabulary [0, {config.VocabSize}).";
        }

        return tokenizer is null
            ? "this line is text, but the model folder has no tokenizer.json; give comma-separated token ids."
            : "the text encodes to no tokens.";
    }

    /// <summary>Digits separated by commas (spaces allowed), and at least one id: <c>12, 7,300</c>.</summary>
    private static bool IsIdList(string line)
        => line.Split(',', StringSplitOptions.TrimEntries).All(s => s.Length is > 0 and <= 9 && s.All(char.IsAsciiDigit));
}
