namespace Qwen3Next.Backends;

/// <summary>A backend that streams per-layer weights is told which layer runs next, so it can make that layer's
/// weights resident and prefetch the following one on its copy stream.</summary>
public interface ILayerStaging
{
    /// <param name="layer">The layer about to run.</param>
    /// <param name="nextLayer">The layer after it (wrapping to 0 for the next forward pass).</param>
    void BeforeLayer(int layer, int nextLayer);
}

/// <summary>A backend whose expert streaming bounds how many tokens one forward pass may take (every expert a layer
/// selects must fit the device cache at once): the model asks before the pass changes any state.</summary>
public interface IForwardCapacity
{
    /// <summary>Throws <see cref="InvalidOperationException"/> naming the limit when a pass of <paramref name="tokens"/> cannot run.</summary>
    void RequireForwardOf(int tokens);
}
