namespace Qwen3Next.Backends;

/// <summary>Keys (after k_norm and RoPE) and values of one attention layer, <c>[Hkv, Capacity, D]</c> each, of
/// <paramref name="element"/>s (a bf16 pool packs two per float word of its tensor: <see cref="KvElements"/>).</summary>
public sealed class KvCache(DeviceTensor keys, DeviceTensor values, int capacity, KvElement element = KvElement.Float32) : IDisposable
{
    public DeviceTensor Keys { get; } = keys;

    public DeviceTensor Values { get; } = values;

    public int Capacity { get; } = capacity;

    public KvElement Element { get; } = element;

    /// <summary>Tokens cached so far; also the position of the next token.</summary>
    public int Length { get; set; }

    public void Dispose()
    {
        Keys.Dispose();
        Values.Dispose();
    }
}

public interface IGatedAttentionOps
{
    /// <summary>
    /// Everything between the q/k/v projections and o_proj for <paramref name="tokens"/> new tokens at
    /// positions <c>cache.Length ..</c>: q/k zero-centred RMSNorm, partial RoPE, append to the cache,
    /// causal attention over the cache (GQA), and the sigmoid output gate.
    /// qg <c>[T, Hq, 2D]</c> (per head [query | gate]); k, v <c>[T, Hkv·D]</c>; y <c>[T, Hq·D]</c>.
    /// </summary>
    void Mixer(GatedAttentionShape shape, int tokens, DeviceTensor qg, DeviceTensor k, DeviceTensor v,
        DeviceWeight qNorm, DeviceWeight kNorm, KvCache cache, DeviceTensor y);

    /// <summary>
    /// The same for a packed batch (<see cref="SequenceBatch"/>) over a paged cache: token t of sequence b is normed and
    /// rotated at <c>batch.Positions[t]</c>, its key and value are written at its cache index through the sequence's block
    /// table, and it attends causally within its own sequence (cache indices <c>0 .. ctx[b] − len(b) + i</c>).
    /// qg, k, v, y hold <c>batch.TotalTokens</c> rows. The batch needs context lengths and block tables.
    /// </summary>
    void Mixer(GatedAttentionShape shape, SequenceBatch batch, DeviceTensor qg, DeviceTensor k, DeviceTensor v,
        DeviceWeight qNorm, DeviceWeight kNorm, PagedKvCache cache, DeviceTensor y);
}
