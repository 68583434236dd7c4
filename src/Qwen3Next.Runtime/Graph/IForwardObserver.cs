using Qwen3Next.Backends;

namespace Qwen3Next.Graph;

/// <summary>Sees intermediate results of a forward pass (conformance checks, statistics). Asking for routing
/// makes the MoE ops report their decisions, which costs a download.</summary>
public interface IForwardObserver
{
    bool WantsRouting { get; }

    /// <summary>After the embedding (layer −1) and after each layer: the residual stream <c>[T, H]</c>.</summary>
    void OnResidual(int layer, DeviceTensor hidden, int tokens);

    void OnRouting(int layer, MoeRouting routing);
}
