using System.Diagnostics;
using Qwen3Next.Backends;

namespace Qwen3Next.Graph;

/// <summary>Time per decoder layer, summed over forward passes. It synchronises the backend at every layer
/// boundary, so it is for statistics runs, not for peak throughput.</summary>
public sealed class LayerTimer(IKernelBackend backend, int layers) : IForwardObserver
{
    private readonly Stopwatch clock = new();

    public double[] Seconds { get; } = new double[layers];

    /// <summary>Host synchronisations the timer itself made (one per layer boundary), to tell them apart from the model's own.</summary>
    public long Synchronizations { get; private set; }

    public bool WantsRouting => false;

    public void OnResidual(int layer, DeviceTensor hidden, int tokens)
    {
        backend.Synchronize();
        Synchronizations++;
        if (layer >= 0)
        {
            Seconds[layer] += clock.Elapsed.TotalSeconds;
        }

        clock.Restart();
    }

    public void OnRouting(int layer, MoeRouting routing)
    {
    }
}
