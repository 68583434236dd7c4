using Qwen3Next.Backends;

namespace Qwen3Next.Graph;

/// <summary>A backend that can choose next tokens on the device, so a decode step reads back ids instead of logits.</summary>
public interface IDeviceSampling
{
    /// <summary>A sampler for <paramref name="options"/> over up to <paramref name="rows"/> rows of logits at a time, or
    /// null when the options need the host sampler (<see cref="TokenSampler"/>).</summary>
    DeviceTokenSampler? CreateSampler(SamplingOptions options, int rows);
}

/// <summary>
/// Chooses one token per row of logits on the device with the rule of <see cref="TokenSampler"/> (greedy, or
/// temperature with top-k then top-p); each row has its own reproducible stream of draws from the seed.
/// </summary>
public abstract class DeviceTokenSampler : IDisposable
{
    /// <summary>Writes the token chosen from each of the first <paramref name="rows"/> rows of <paramref name="logits"/>
    /// <c>[rows, vocab]</c> to <paramref name="result"/>; a negative value is minus the number of NaN/±Inf logits of that row.</summary>
    public void Sample(DeviceTensor logits, int rows, int vocab, Span<int> result)
    {
        Launch(logits, rows, vocab);
        ReadBack(rows, result);
    }

    /// <summary>Queues the sampling kernel (stream work only, so it can be captured into a graph).</summary>
    public abstract void Launch(DeviceTensor logits, int rows, int vocab);

    /// <summary>Copies the ids of the last <see cref="Launch"/> (or of a replayed graph holding it) to
    /// <paramref name="result"/>: the one host synchronisation.</summary>
    public abstract void ReadBack(int rows, Span<int> result);

    public abstract void Dispose();
}
