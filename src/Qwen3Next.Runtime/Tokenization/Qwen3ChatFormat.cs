using System.Text;

namespace Qwen3Next.Tokenization;

/// <summary>
/// The Qwen3 chat template (tokenizer_config.json's <c>chat_template</c>) written out in C#, statement for statement,
/// without tool definitions or tool calls. Each branch names the template line it implements; tests compare the
/// output with the Jinja template's rendering (tools/tokenizer-reference, @huggingface/jinja) character for character.
/// </summary>
public static class Qwen3ChatFormat
{
    private const string ThinkEnd = "</think>";

    /// <param name="messages">The conversation; a leading <c>system</c> turn is the system prompt.</param>
    /// <param name="addGenerationPrompt">Open an assistant turn for the model to complete.</param>
    /// <param name="enableThinking">False adds an empty think block so the model answers directly; null or true lets it think.</param>
    /// <exception cref="ArgumentException">No messages, a null content, or a role other than system/user/assistant/tool.</exception>
    public static string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true, bool? enableThinking = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            throw new ArgumentException("A conversation needs at least one message.", nameof(messages));
        }

        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i] ?? throw new ArgumentException($"Message {i} is null.", nameof(messages));
            if (m.Role is not ("system" or "user" or "assistant" or "tool") || m.Content is null)
            {
                throw new ArgumentException($"Message {i}: role '{m.Role}' with {(m.Content is null ? "no" : "some")} content; roles are system, user, assistant and tool, each with content.", nameof(messages));
            }
        }

        var text = new StringBuilder();

        // {%- if messages[0].role == 'system' %} '<|im_start|>system\n' + content + '<|im_end|>\n'
        if (messages[0].Role == "system")
        {
            text.Append("<|im_start|>system\n").Append(messages[0].Content).Append("<|im_end|>\n");
        }

        int lastQuery = LastQueryIndex(messages);
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m.Role == "user" || (m.Role == "system" && i > 0))
            {
                text.Append("<|im_start|>").Append(m.Role).Append('\n').Append(m.Content).Append("<|im_end|>\n");
            }
            else if (m.Role == "assistant")
            {
                AppendAssistant(text, m, thinkBlock: i > lastQuery, isLast: i == messages.Count - 1);
            }
            else if (m.Role == "tool")
            {
                // Consecutive tool responses share one user turn.
                if (i == 0 || messages[i - 1].Role != "tool")
                {
                    text.Append("<|im_start|>user");
                }

                text.Append("\n<tool_response>\n").Append(m.Content).Append("\n</tool_response>");
                if (i == messages.Count - 1 || messages[i + 1].Role != "tool")
                {
                    text.Append("<|im_end|>\n");
                }
            }
        }

        if (addGenerationPrompt)
        {
            text.Append("<|im_start|>assistant\n");
            if (enableThinking == false)
            {
                text.Append("<think>\n\n</think>\n\n");
            }
        }

        return text.ToString();
    }

    /// <summary>ns.last_query_index: the last user turn that is not a wrapped tool response (else the last message).</summary>
    private static int LastQueryIndex(IReadOnlyList<ChatMessage> messages)
    {
        for (int i = messages.Count - 1; i >= 0; i--)
        {
            string c = messages[i].Content;
            if (messages[i].Role == "user" && !(c.StartsWith("<tool_response>", StringComparison.Ordinal) && c.EndsWith("</tool_response>", StringComparison.Ordinal)))
            {
                return i;
            }
        }

        return messages.Count - 1;
    }

    /// <summary>An assistant turn: its reasoning is taken from reasoning_content or split off at &lt;/think&gt;, and shown
    /// in a think block only after the last user query (the last turn always, earlier ones when they have reasoning).</summary>
    private static void AppendAssistant(StringBuilder text, ChatMessage m, bool thinkBlock, bool isLast)
    {
        string content = m.Content, reasoning = "";
        if (m.ReasoningContent is not null)
        {
            reasoning = m.ReasoningContent;
        }
        else if (content.Contains(ThinkEnd, StringComparison.Ordinal))
        {
            // content.split('</think>')[-1].lstrip('\n'); content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n')
            var parts = content.Split(ThinkEnd);
            content = parts[^1].TrimStart('\n');
            reasoning = parts[0].TrimEnd('\n').Split("<think>")[^1].TrimStart('\n');
        }

        text.Append("<|im_start|>").Append(m.Role).Append('\n');
        if (thinkBlock && (isLast || reasoning.Length > 0))
        {
            text.Append("<think>\n").Append(reasoning.Trim('\n')).Append("\n</think>\n\n").Append(content.TrimStart('\n'));
        }
        else
        {
            text.Append(content);
        }

        text.Append("<|im_end|>\n");
    }
}
