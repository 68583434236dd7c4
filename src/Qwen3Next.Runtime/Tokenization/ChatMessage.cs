namespace Qwen3Next.Tokenization;

/// <summary>One turn of a conversation. <paramref name="Role"/> is <c>system</c>, <c>user</c>, <c>assistant</c> or
/// <c>tool</c>; <paramref name="ReasoningContent"/> is an assistant turn's thinking, when it is kept apart from the content.</summary>
public sealed record ChatMessage(string Role, string Content, string? ReasoningContent = null)
{
    public static ChatMessage System(string content) => new("system", content);

    public static ChatMessage User(string content) => new("user", content);

    public static ChatMessage Assistant(string content) => new("assistant", content);
}
