namespace Qwen3Next.Streaming;

/// <summary>What weight streaming did: copies, cache behaviour and time spent waiting for copies.</summary>
public sealed class StreamingStatistics
{
    public long ExpertHits { get; internal set; }

    public long ExpertMisses { get; internal set; }

    public long ExpertBytesCopied { get; internal set; }

    /// <summary>Non-expert weight bytes copied by prefetch (zero while every non-expert weight is resident).</summary>
    public long PrefetchedBytes { get; internal set; }

    public long HostToDeviceBytes => ExpertBytesCopied + PrefetchedBytes;

    /// <summary>Seconds the host waited for the copy stream (CPU accelerator). On CUDA the compute stream waits for
    /// copies on the device through an event, which is not counted here.</summary>
    public double StallSeconds { get; internal set; }

    public long Evictions { get; internal set; }

    public double HitRate => ExpertHits + ExpertMisses > 0 ? (double)ExpertHits / (ExpertHits + ExpertMisses) : 0;

    public void Reset()
    {
        ExpertHits = ExpertMisses = ExpertBytesCopied = PrefetchedBytes = Evictions = 0;
        StallSeconds = 0;
    }
}
