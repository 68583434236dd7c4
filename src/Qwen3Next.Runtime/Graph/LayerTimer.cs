using System.Diagnostics;
using Qwen3Next.Backends;

namespace Qwen3Next.Graph;

/// <summary>Time per decoder layer, summed over forward passes. It synchronises the backend at every layer
/// boundary, so it is for statistics runs, not for peak throughput.</summary>
public sealed class LayerTimer(IKernelBackend backend, int layers) : IForwardObserver
{
    private readonly Stopwatch clock = new();

    public double[] Seconds { get; } = new double[layers];

    public bool WantsRouting => false;

    public void OnResidual(int layer, DeviceTensor hidden, int tokens)
    {
        backend.Synchronize();
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
