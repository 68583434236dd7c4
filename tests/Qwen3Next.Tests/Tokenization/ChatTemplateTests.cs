using System.Text.Json;
using System.Text.Json.Serialization;
using NUnit.Framework;
using Qwen3Next.Tokenization;

namespace Qwen3Next.Tests.Tokenization;

/// <summary>The C# Qwen3 chat format against the real Jinja template rendered by @huggingface/jinja
/// (tests/data/tokenizer/qwen3-chat.json): same text, character for character, and the same ids.</summary>
public sealed class ChatTemplateTests
{
    public static IEnumerable<TestCaseData> Conversations() =>
        JsonSerializer.Deserialize<List<Conversation>>(File.ReadAllText(Path.Combine(RealTokenizer.DataFolder, "qwen3-chat.json")))!
            .Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    [TestCaseSource(nameof(Conversations))]
    public void RendersWhatTheJinjaTemplateRenders(Conversation c)
    {
        string rendered = Qwen3ChatFormat.Render(c.Messages.Select(m => m.ToMessage()).ToList(), c.AddGenerationPrompt, c.EnableThinking);
        Assert.That(rendered, Is.EqualTo(c.Rendered));
        Assert.That(RealTokenizer.Get().Encode(rendered), Is.EqualTo(c.Ids));
    }

    [Test]
    public void TheRealTemplateIsRecognisedAsQwen3()
    {
        var chat = RealTokenizer.Get().Chat;
        Assert.That(chat, Is.Not.Null);
        Assert.That(chat!.IsQwen3, Is.True);
        Assert.That(chat.EndOfTurnTokens, Is.EqualTo(new[] { 151645, 151643 }));
    }

    [Test]
    public void MisuseIsAnArgumentError()
    {
        Assert.Throws<ArgumentException>(() => Qwen3ChatFormat.Render([]));
        Assert.That(() => Qwen3ChatFormat.Render([new ChatMessage("narrator", "x")]), Throws.ArgumentException.With.Message.Contains("narrator"));
        Assert.Throws<ArgumentException>(() => Qwen3ChatFormat.Render([new ChatMessage("user", null!)]));
    }

    public sealed record Conversation(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("messages")] List<Turn> Messages,
        [property: JsonPropertyName("add_generation_prompt")] bool AddGenerationPrompt,
        [property: JsonPropertyName("enable_thinking")] bool? EnableThinking,
        [property: JsonPropertyName("rendered")] string Rendered,
        [property: JsonPropertyName("ids")] int[] Ids);

    public sealed record Turn(
        [property: JsonPropertyName("role")] string Role,
        [property: JsonPropertyName("content")] string Content,
        [property: JsonPropertyName("reasoning_content")] string? ReasoningContent)
    {
        public ChatMessage ToMessage() => new(Role, Content, ReasoningContent);
    }
}
