namespace Qwen3Next.Streaming;

/// <summary>What weight streaming did: copies, cache behaviour, predictions and time spent waiting for copies.</summary>
public sealed class StreamingStatistics
{
    /// <summary>Expert lookups that found the expert in a device slot (per distinct expert of a call).</summary>
    public long ExpertHits { get; internal set; }

    public long ExpertMisses { get; internal set; }

    /// <summary>Routed-expert bytes that crossed from host to device: copies into slots, and (ptx) bytes the decode
    /// kernels read straight from mapped host memory.</summary>
    public long ExpertBytesCopied { get; internal set; }

    /// <summary>The part of <see cref="ExpertBytesCopied"/> read by decode kernels from mapped host memory (ptx).</summary>
    public long ExpertBytesReadMapped { get; internal set; }

    /// <summary>Non-expert weight bytes copied by prefetch (zero while every non-expert weight is resident).</summary>
    public long PrefetchedBytes { get; internal set; }

    public long HostToDeviceBytes => ExpertBytesCopied + PrefetchedBytes;

    /// <summary>Seconds the host waited for the copy stream (CPU accelerator), or (ptx) the compute stream waited for
    /// prefetches on the device, measured with CUDA events. On CUDA the ILGPU path's event waits are not counted.</summary>
    public double StallSeconds { get; internal set; }

    public long Evictions { get; internal set; }

    /// <summary>Experts copied ahead of their layer because the previous layer predicted them (ptx).</summary>
    public long ExpertPrefetches { get; internal set; }

    /// <summary>Selected experts that the previous layer had predicted, of <see cref="PredictionLookups"/> (ptx).</summary>
    public long PredictionHits { get; internal set; }

    /// <summary>Selected experts of the calls that had a prediction from the previous layer (ptx).</summary>
    public long PredictionLookups { get; internal set; }

    public double HitRate => ExpertHits + ExpertMisses > 0 ? (double)ExpertHits / (ExpertHits + ExpertMisses) : 0;

    public double PredictionHitRate => PredictionLookups > 0 ? (double)PredictionHits / PredictionLookups : 0;

    public void Reset()
    {
        ExpertHits = ExpertMisses = ExpertBytesCopied = ExpertBytesReadMapped = PrefetchedBytes = Evictions = 0;
        ExpertPrefetches = PredictionHits = PredictionLookups = 0;
        StallSeconds = 0;
    }

    /// <summary>The change from <paramref name="earlier"/> to this snapshot.</summary>
    public StreamingStatistics Since(StreamingStatistics earlier) => new()
    {
        ExpertHits = ExpertHits - earlier.ExpertHits,
        ExpertMisses = ExpertMisses - earlier.ExpertMisses,
        ExpertBytesCopied = ExpertBytesCopied - earlier.ExpertBytesCopied,
        ExpertBytesReadMapped = ExpertBytesReadMapped - earlier.ExpertBytesReadMapped,
        PrefetchedBytes = PrefetchedBytes - earlier.PrefetchedBytes,
        StallSeconds = StallSeconds - earlier.StallSeconds,
        Evictions = Evictions - earlier.Evictions,
        ExpertPrefetches = ExpertPrefetches - earlier.ExpertPrefetches,
        PredictionHits = PredictionHits - earlier.PredictionHits,
        PredictionLookups = PredictionLookups - earlier.PredictionLookups,
    };

    /// <summary>A copy of the current values.</summary>
    public StreamingStatistics Snapshot() => Since(new StreamingStatistics());
}
