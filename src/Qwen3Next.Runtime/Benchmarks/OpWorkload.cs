using Qwen3Next.Backends;

namespace Qwen3Next.Benchmarks;

/// <summary>
/// One op at one shape, set up on a backend with random inputs, runnable many times. Bytes and FLOPs are
/// the minimum traffic and arithmetic of the op (weights read once, activations in and out), so
/// achieved GB/s over a measured copy bandwidth is the op's fraction of the memory roofline.
/// </summary>
public sealed class OpWorkload : IDisposable
{
    private readonly List<IDisposable> owned;

    internal OpWorkload(string name, string shape, long bytes, long flops, Action run, List<IDisposable> owned)
    {
        Name = name;
        Shape = shape;
        Bytes = bytes;
        Flops = flops;
        Run = run;
        this.owned = owned;
    }

    public string Name { get; }

    /// <summary>The sizes, for reports.</summary>
    public string Shape { get; }

    public long Bytes { get; }

    public long Flops { get; }

    /// <summary>Launches the op once (asynchronously on GPU backends).</summary>
    public Action Run { get; }

    /// <summary>Arithmetic intensity in FLOPs per byte.</summary>
    public double Intensity => Bytes > 0 ? (double)Flops / Bytes : 0;

    public void Dispose()
    {
        foreach (var d in owned)
        {
            d.Dispose();
        }
    }
}
