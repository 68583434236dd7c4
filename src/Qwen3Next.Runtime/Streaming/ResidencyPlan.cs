using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Streaming;

/// <summary>
/// How a model fits a device-memory budget: the always-needed weights stay resident, per-sequence state and
/// activation workspace are reserved, and what is left becomes a cache of fixed-size expert slots that the
/// executor fills from pinned host memory. A budget that cannot hold one layer's working set is an error.
/// </summary>
public sealed record ResidencyPlan(
    WeightInventory Weights,
    long BudgetBytes,
    long StateBytes,
    long WorkspaceBytes,
    int ExpertSlots,
    int MinimumSlots,
    int TopK,
    int Layers,
    bool StreamsLayers = false)
{
    /// <summary>Bytes of one layer staging buffer (two are used) when layer weights stream.</summary>
    public long StageBytes => StreamsLayers ? Weights.LayerBytes.Max() : 0;

    /// <summary>Non-expert bytes kept on the device: everything, or the embedding, head and two staging buffers.</summary>
    public long ResidentWeightBytes => StreamsLayers
        ? Weights.EmbeddingBytes + Weights.LmHeadBytes + Weights.FinalNormBytes + (2 * StageBytes)
        : Weights.AlwaysNeededBytes;

    /// <summary>Every expert of every layer fits: nothing is streamed after the first load.</summary>
    public bool AllExpertsResident => ExpertSlots >= Weights.ExpertsPerLayer * Layers;

    public long ExpertCacheBytes => ExpertSlots * Weights.ExpertBytes;

    public long UsedBytes => ResidentWeightBytes + StateBytes + WorkspaceBytes + ExpertCacheBytes;

    /// <summary>Host-to-device bytes per decoded token when <paramref name="hitRate"/> of the routed experts are cached
    /// (plus every layer's non-expert weights when they stream).</summary>
    public double HostToDeviceBytesPerToken(double hitRate) => (AllExpertsResident ? 0 : Layers * TopK * (1 - hitRate) * Weights.ExpertBytes)
        + (StreamsLayers ? Weights.LayerBytes.Sum() : 0);

    /// <summary>Device-memory bytes read per decoded token: all non-expert weights except the embedding table
    /// (one row), plus top-k experts per layer.</summary>
    public double DeviceBytesPerToken => Weights.AlwaysNeededBytes - Weights.EmbeddingBytes + (Layers * TopK * (double)Weights.ExpertBytes);

    /// <summary>Seconds per decoded token the routed-expert copies take at <paramref name="hitRate"/> over a host-to-device
    /// link of <paramref name="hostToDeviceGBs"/> GB/s.</summary>
    public double CopySecondsPerToken(double hitRate, double hostToDeviceGBs) => HostToDeviceBytesPerToken(hitRate) / (hostToDeviceGBs * 1e9);

    /// <summary>Decode tokens/s if device memory were read at <paramref name="deviceGBs"/> and nothing else took time: the
    /// floor a fully resident bf16 model cannot beat.</summary>
    public double DeviceReadRateBound(double deviceGBs) => deviceGBs * 1e9 / DeviceBytesPerToken;

    /// <summary>Upper bound on decode tokens/s: copies and compute overlap, so the slower of the two streams bounds the rate.</summary>
    public double DecodeRateBound(double hitRate, double hostToDeviceGBs, double deviceGBs)
    {
        double copy = HostToDeviceBytesPerToken(hitRate) / (hostToDeviceGBs * 1e9);
        double read = DeviceBytesPerToken / (deviceGBs * 1e9);
        return 1 / Math.Max(copy, read);
    }

    /// <param name="budgetBytes">Device bytes for this model; null = everything resident.</param>
    /// <param name="maxTokens">KV-cache capacity per sequence.</param>
    /// <param name="prefillChunk">Largest number of tokens per forward pass (sizes activations and the experts one layer may touch).</param>
    /// <param name="streamLayers">Whether a budget below the always-needed weights may stream every layer's non-expert
    /// weights too (the ILGPU backend can; the ptx backend keeps them resident, and such a budget is an error).</param>
    /// <param name="kvElement">What the KV cache holds (<see cref="IKernelBackend.KvCacheElement"/>: bf16 in the ptx backend's fast precision).</param>
    public static ResidencyPlan Create(ModelConfig c, long? budgetBytes, int maxTokens = 4096, int prefillChunk = 512, bool streamLayers = true,
        KvElement kvElement = KvElement.Float32)
    {
        var weights = WeightInventory.From(c);
        int layers = c.NumHiddenLayers;
        int linear = c.LayerTypes.Count(k => k == LayerKind.LinearAttention), full = layers - linear;
        long state = (linear * 4L * ((long)c.ConvDim * c.LinearConvKernelDim + (long)c.LinearNumValueHeads * c.LinearKeyHeadDim * c.LinearValueHeadDim))
            + (full * 2L * kvElement.Bytes() * c.NumKeyValueHeads * c.HeadDim * maxTokens);
        // About eight live float buffers of the widest activation per chunk token, plus one row of logits.
        long widest = new long[] { c.HiddenSize, 2L * c.NumAttentionHeads * c.HeadDim, (2L * c.LinearNumKeyHeads * c.LinearKeyHeadDim) + (2L * c.LinearNumValueHeads * c.LinearValueHeadDim), (long)c.NumExperts }.Max();
        long workspace = (8L * 4 * prefillChunk * widest) + (4L * c.VocabSize);

        // One layer's routed experts must all be resident at once: top-k per token, up to every expert at prefill.
        int minimum = (int)Math.Min(c.NumExperts, (long)c.NumExpertsPerTok * prefillChunk);
        long fixedBytes = weights.AlwaysNeededBytes + state + workspace;
        int slots;
        if (budgetBytes is not { } budget)
        {
            slots = c.NumExperts * layers;
        }
        else
        {
            long needed = fixedBytes + (minimum * weights.ExpertBytes);
            if (budget < needed && !streamLayers)
            {
                throw new InsufficientDeviceMemoryException(budget, needed,
                    $"every non-expert weight stays resident ({weights.AlwaysNeededBytes:N0}) + state {state:N0} + workspace {workspace:N0} + {minimum} expert slots x {weights.ExpertBytes:N0}{ChunkHint(prefillChunk, minimum, c)}");
            }

            if (budget < needed)
            {
                // Fall back to streaming every layer's non-expert weights through two staging buffers.
                long streamedFixed = weights.EmbeddingBytes + weights.LmHeadBytes + weights.FinalNormBytes + (2 * weights.LayerBytes.Max()) + state + workspace;
                long streamedNeeded = streamedFixed + (minimum * weights.ExpertBytes);
                if (budget < streamedNeeded)
                {
                    throw new InsufficientDeviceMemoryException(budget, streamedNeeded,
                        $"embedding + lm_head {weights.EmbeddingBytes + weights.LmHeadBytes:N0} + two layer staging buffers {2 * weights.LayerBytes.Max():N0} + state {state:N0} + workspace {workspace:N0} + {minimum} expert slots x {weights.ExpertBytes:N0}{ChunkHint(prefillChunk, minimum, c)}");
                }

                int streamedSlots = (int)Math.Min((budget - streamedFixed) / weights.ExpertBytes, (long)c.NumExperts * layers);
                return new ResidencyPlan(weights, budget, state, workspace, streamedSlots, minimum, c.NumExpertsPerTok, layers, StreamsLayers: true);
            }

            slots = (int)Math.Min((budget - fixedBytes) / weights.ExpertBytes, (long)c.NumExperts * layers);
        }

        return new ResidencyPlan(weights, budgetBytes ?? fixedBytes + (slots * weights.ExpertBytes), state, workspace, slots, minimum, c.NumExpertsPerTok, layers);
    }

    /// <summary>What the prefill chunk adds, when a smaller one would need less (its workspace, and up to every expert of
    /// a layer at once).</summary>
    private static string ChunkHint(int prefillChunk, int minimum, ModelConfig c)
        => prefillChunk > 1
            ? $"; a prefill chunk of {prefillChunk} tokens sizes the workspace and may select {minimum} experts of a layer at once (a decode step needs {c.NumExpertsPerTok}), so a smaller --prefill-chunk needs less"
            : string.Empty;
}

/// <summary>A device-memory budget too small for one layer's working set.</summary>
public sealed class InsufficientDeviceMemoryException(long budget, long needed, string breakdown)
    : InvalidOperationException($"--device-memory {ByteSize.Format(budget)} is too small: at least {ByteSize.Format(needed)} ({needed:N0} bytes) is needed: {breakdown}.")
{
    public long BudgetBytes { get; } = budget;

    public long NeededBytes { get; } = needed;
}
