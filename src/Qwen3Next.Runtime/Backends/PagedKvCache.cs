namespace Qwen3Next.Backends;

/// <summary>
/// Keys (after k_norm and RoPE) and values of one attention layer in fixed-size pages, page-major so one page of one
/// KV head is contiguous: <c>[NumPages, Hkv, PageSize, D]</c> each. A sequence's cache index c lives in page
/// <c>block_table[c / PageSize]</c> at row <c>c % PageSize</c>. Any page size of at least 1 works; a contiguous
/// <see cref="KvCache"/> <c>[Hkv, capacity, D]</c> is the one page of size capacity (<see cref="Of"/>).
/// The pools hold <see cref="Element"/>s: fp32, or bf16 packed two per float word of the tensors (<see cref="KvElements"/>).
/// </summary>
public sealed class PagedKvCache : IDisposable
{
    private readonly bool ownsTensors;

    /// <param name="ownsTensors">Dispose <paramref name="keys"/> and <paramref name="values"/> with the cache.</param>
    public PagedKvCache(DeviceTensor keys, DeviceTensor values, int numPages, int pageSize, bool ownsTensors = true, KvElement element = KvElement.Float32)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(values);
        ArgumentOutOfRangeException.ThrowIfLessThan(numPages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        Keys = keys;
        Values = values;
        NumPages = numPages;
        PageSize = pageSize;
        Element = element;
        this.ownsTensors = ownsTensors;
    }

    /// <summary>A view of a contiguous cache as one page of <see cref="KvCache.Capacity"/> rows (it owns nothing).</summary>
    public static PagedKvCache Of(KvCache cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        return new PagedKvCache(cache.Keys, cache.Values, 1, Math.Max(1, cache.Capacity), ownsTensors: false, cache.Element);
    }

    public DeviceTensor Keys { get; }

    public DeviceTensor Values { get; }

    public int NumPages { get; }

    public int PageSize { get; }

    public KvElement Element { get; }

    /// <summary>Pages a sequence of <paramref name="contextLength"/> cached tokens needs.</summary>
    public int PagesFor(int contextLength) => (int)(((long)contextLength + PageSize - 1) / PageSize);

    public void Dispose()
    {
        if (ownsTensors)
        {
            Keys.Dispose();
            Values.Dispose();
        }
    }
}

/// <summary>
/// Linear-attention states of many sequences, indexed by slot id as engines index their state caches:
/// conv <c>[Slots, conv_dim, K]</c> (per slot the last K pre-conv inputs, column K-1 newest) and recurrent
/// <c>[Slots, Hv, Dk, Dv]</c> (key index first). A fresh sequence starts from a zeroed slot.
/// A <see cref="LinearAttentionState"/> is the pool of one slot (<see cref="Of"/>).
/// </summary>
public sealed class LinearAttentionStatePool : IDisposable
{
    private readonly bool ownsTensors;

    public LinearAttentionStatePool(DeviceTensor conv, DeviceTensor recurrent, int slots, bool ownsTensors = true)
    {
        ArgumentNullException.ThrowIfNull(conv);
        ArgumentNullException.ThrowIfNull(recurrent);
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        Conv = conv;
        Recurrent = recurrent;
        Slots = slots;
        this.ownsTensors = ownsTensors;
    }

    /// <summary>A view of one sequence's state as a pool of one slot (it owns nothing).</summary>
    public static LinearAttentionStatePool Of(LinearAttentionState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return new LinearAttentionStatePool(state.Conv, state.Recurrent, 1, ownsTensors: false);
    }

    public DeviceTensor Conv { get; }

    public DeviceTensor Recurrent { get; }

    public int Slots { get; }

    public void Dispose()
    {
        if (ownsTensors)
        {
            Conv.Dispose();
            Recurrent.Dispose();
        }
    }
}
