using Qwen3Next.Backends;

namespace Qwen3Next.Graph;

/// <summary>
/// Per-sequence state of the whole model: every layer's conv/recurrent state or KV cache and the
/// number of tokens consumed. Any number of tokens can be fed at a time; each call continues from
/// the cached state (a multi-token continuation does not restart the linear layers, unlike HF).
/// </summary>
public sealed class InferenceSession : IDisposable
{
    internal InferenceSession(IReadOnlyList<LayerState> layers, int maxTokens)
    {
        Layers = layers;
        MaxTokens = maxTokens;
    }

    public IReadOnlyList<LayerState> Layers { get; }

    /// <summary>The KV-cache capacity this session was created with.</summary>
    public int MaxTokens { get; }

    /// <summary>Tokens consumed so far; the position of the next token.</summary>
    public int Position { get; internal set; }

    public void Dispose()
    {
        foreach (var layer in Layers)
        {
            layer.Dispose();
        }
    }
}
