namespace Qwen3Next.Backends;

/// <summary>A backend that streams per-layer weights is told which layer runs next, so it can make that layer's
/// weights resident and prefetch the following one on its copy stream.</summary>
public interface ILayerStaging
{
    /// <param name="layer">The layer about to run.</param>
    /// <param name="nextLayer">The layer after it (wrapping to 0 for the next forward pass).</param>
    void BeforeLayer(int layer, int nextLayer);
}
