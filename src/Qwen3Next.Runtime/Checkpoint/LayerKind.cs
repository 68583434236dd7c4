namespace Qwen3Next.Checkpoint;

/// <summary>The token mixer of a decoder layer: Gated DeltaNet or gated full attention.</summary>
public enum LayerKind
{
    LinearAttention,
    FullAttention,
}
