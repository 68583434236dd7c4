namespace Qwen3Next.Backends;

/// <summary>
/// The contracts of the batched ops (<see cref="SequenceBatch"/>): everything the single-sequence contracts check, plus
/// what ties the batch to the op's pools — the token count of every tensor, slot ids inside the state pool, and for a
/// paged cache a block table long enough for each context, page ids inside the pool and no page shared by two
/// sequences. The batch's own structure was checked when it was built. All before anything is launched or written.
/// </summary>
public static partial class OpContracts
{
    public static BackendAccess.Scope Rule(BackendAccess access, GatedDeltaShape shape, SequenceBatch batch, DeviceTensor q, DeviceTensor k, DeviceTensor v,
        DeviceTensor g, DeviceTensor beta, DeviceTensor states, DeviceTensor o, float scale)
    {
        ArgumentNullException.ThrowIfNull(batch);
        TokensOf(batch, shape.Tokens, "shape.Tokens");
        long slot = (long)shape.ValueHeads * shape.KeyDim * shape.ValueDim;
        Live(states, nameof(states));
        int slots = slot > 0 ? (int)Math.Min(int.MaxValue, states.Length / slot) : 0;
        var scope = Rule(access, shape, q, k, v, g, beta, states, o, scale);
        try
        {
            SlotsOf(batch, slots, nameof(states));
            return scope;
        }
        catch
        {
            scope.Dispose();
            throw;
        }
    }

    public static BackendAccess.Scope GatedDeltaNet(BackendAccess access, GatedDeltaNetShape shape, SequenceBatch batch, DeviceTensor qkvz, DeviceTensor ba,
        GatedDeltaNetWeights weights, LinearAttentionStatePool states, DeviceTensor y)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(states);
        int tokens = batch.TotalTokens;
        Heads(shape.KeyHeads, shape.ValueHeads, "shape.KeyHeads", "shape.ValueHeads");
        Count(shape.KeyDim, "shape.KeyDim");
        Count(shape.ValueDim, "shape.ValueDim");
        Count(shape.ConvKernel, "shape.ConvKernel");
        Finite(shape.Eps, "shape.Eps");
        ArgumentNullException.ThrowIfNull(weights);
        Tensor(qkvz, nameof(qkvz), (long)tokens * shape.QkvzWidth, "T·qkvz width");
        Tensor(ba, nameof(ba), (long)tokens * shape.BaWidth, "T·2·Hv");
        Tensor(y, nameof(y), (long)tokens * shape.ValueWidth, "T·Hv·Dv");
        Tensor(states.Conv, "states.Conv", (long)states.Slots * shape.ConvDim * shape.ConvKernel, "slots·conv_dim·K");
        Tensor(states.Recurrent, "states.Recurrent", (long)states.Slots * shape.ValueHeads * shape.KeyDim * shape.ValueDim, "slots·Hv·Dk·Dv");
        MixerWeights(shape, weights);
        SlotsOf(batch, states.Slots, nameof(states));
        return access.Enter();
    }

    public static BackendAccess.Scope GatedAttention(BackendAccess access, GatedAttentionShape shape, SequenceBatch batch, DeviceTensor qg, DeviceTensor k,
        DeviceTensor v, DeviceWeight qNorm, DeviceWeight kNorm, PagedKvCache cache, DeviceTensor y, bool bf16Cache = false)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(cache);
        int tokens = batch.TotalTokens;
        AttentionShape(shape);

        Tensor(qg, nameof(qg), (long)tokens * shape.QueryGateWidth, "T·2·Hq·D");
        Tensor(k, nameof(k), (long)tokens * shape.KeyValueWidth, "T·Hkv·D");
        Tensor(v, nameof(v), (long)tokens * shape.KeyValueWidth, "T·Hkv·D");
        Tensor(y, nameof(y), (long)tokens * shape.OutputWidth, "T·Hq·D");
        Weight(qNorm, nameof(qNorm), matrix: false);
        Size(qNorm, nameof(qNorm), 1, shape.HeadDim);
        Weight(kNorm, nameof(kNorm), matrix: false);
        Size(kNorm, nameof(kNorm), 1, shape.HeadDim);
        if (cache.Element == KvElement.BFloat16 && !bf16Cache)
        {
            throw new NotSupportedException("This backend keeps its KV cache in fp32; a bf16 cache (cache.Element) is the ptx backend's fast precision.");
        }

        long pool = cache.Element.Words((long)cache.NumPages * shape.KeyValueHeads * cache.PageSize * shape.HeadDim);
        Tensor(cache.Keys, "cache.Keys", pool, "pages·Hkv·page_size·D");
        Tensor(cache.Values, "cache.Values", pool, "pages·Hkv·page_size·D");
        PagesOf(batch, cache);
        return access.Enter();
    }

    private static void TokensOf(SequenceBatch batch, int tokens, string name)
    {
        if (tokens != batch.TotalTokens)
        {
            throw new ArgumentException($"{name} = {tokens} but the batch packs {batch.TotalTokens} tokens (cu_seqlens[B]).", name);
        }
    }

    private static void SlotsOf(SequenceBatch batch, int slots, string pool)
    {
        if (!batch.HasSlots)
        {
            throw new ArgumentException("The batch has no slot ids; this op keeps linear-attention state per slot.", "batch.SlotIds");
        }

        var ids = batch.SlotIds;
        for (int b = 0; b < ids.Length; b++)
        {
            if (ids[b] >= slots)
            {
                throw new ArgumentOutOfRangeException("batch.SlotIds", ids[b], $"Slot id of sequence {b} is outside the {slots} slots of {pool}.");
            }
        }
    }

    private static void PagesOf(SequenceBatch batch, PagedKvCache cache)
    {
        if (!batch.HasBlockTables)
        {
            throw new ArgumentException("The batch has no block tables; this op reads a paged KV cache.", "batch.BlockTables");
        }

        var tables = batch.BlockTables;
        var owner = new Dictionary<int, int>();
        for (int b = 0; b < batch.Count; b++)
        {
            int context = batch.ContextLengths[b], needed = cache.PagesFor(context);
            if (needed > batch.MaxPagesPerSequence)
            {
                throw new ArgumentException(
                    $"Sequence {b} holds {context} tokens: {needed} pages of {cache.PageSize}, but its block table has {batch.MaxPagesPerSequence} entries.",
                    "batch.BlockTables");
            }

            for (int i = 0; i < needed; i++)
            {
                int page = tables[(b * batch.MaxPagesPerSequence) + i];
                if ((uint)page >= (uint)cache.NumPages)
                {
                    throw new ArgumentOutOfRangeException("batch.BlockTables", page,
                        $"Page {i} of sequence {b} is outside the {cache.NumPages} pages of the cache.");
                }

                if (!owner.TryAdd(page, b))
                {
                    string who = owner[page] == b ? $"twice by sequence {b}" : $"by sequences {owner[page]} and {b}";
                    throw new ArgumentException($"Page {page} is used {who}: a page holds one sequence's tokens.", "batch.BlockTables");
                }
            }
        }
    }
}
