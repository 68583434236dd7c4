using Qwen3Next.Tokenization;

namespace Qwen3Next.Cli;

/// <summary>
/// Prints generated tokens as they arrive (<see cref="Graph.Generator"/>'s onToken): the text when the model folder
/// has a tokenizer (then the ids once generation ends), else the ids. Text is printed only up to the last complete
/// character: a token that ends inside a multi-byte UTF-8 sequence decodes to U+FFFD until the next one completes it.
/// A chat reply leaves special tokens (the closing &lt;|im_end|&gt;) out of the text.
/// </summary>
internal sealed class TokenPrinter(QwenTokenizer? tokenizer, bool skipSpecialTokens = false)
{
    private readonly List<int> ids = [];
    private string printed = string.Empty;

    public void Add(int id)
    {
        ids.Add(id);
        if (tokenizer is null)
        {
            Console.Write(ids.Count == 1 ? $"output   [{id}" : $",{id}");
        }
        else
        {
            if (ids.Count == 1)
            {
                Console.Write("text     ");
            }

            string text = tokenizer.Decode(ids, skipSpecialTokens);
            if (text.StartsWith(printed, StringComparison.Ordinal) && !text.EndsWith('\uFFFD'))
            {
                Console.Write(text[printed.Length..]);
                printed = text;
            }
        }

        Console.Out.Flush();
    }

    /// <summary>Generation failed: ends a partly printed line so the error starts on a line of its own.</summary>
    public void Abandon()
    {
        if (ids.Count > 0)
        {
            Console.WriteLine();
        }
    }

    /// <summary>Ends the streamed line; with a tokenizer, prints what is left of the text and the ids.</summary>
    public void Finish()
    {
        if (tokenizer is null)
        {
            Console.WriteLine("]");
            return;
        }

        string text = tokenizer.Decode(ids, skipSpecialTokens);
        Console.WriteLine(text.StartsWith(printed, StringComparison.Ordinal) ? text[printed.Length..] : $" [decoded whole: {text}]");
        Console.WriteLine($"output   [{string.Join(',', ids)}]");
    }
}
