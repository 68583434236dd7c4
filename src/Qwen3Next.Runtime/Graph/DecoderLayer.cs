using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Graph;

/// <summary>h += Mixer(ZNorm(h)); h += MoE(ZNorm(h)). The mixer is Gated DeltaNet or gated attention.</summary>
public sealed class DecoderLayer(int index, LayerKind kind, DeviceWeight inputNorm, DeviceWeight postNorm,
    GatedDeltaNetMixer? linear, GatedAttentionMixer? attention, MoeBlock moe) : IDisposable
{
    public int Index { get; } = index;

    public LayerKind Kind { get; } = kind;

    public GatedDeltaNetMixer? Linear { get; } = linear;

    public GatedAttentionMixer? Attention { get; } = attention;

    public MoeBlock Moe { get; } = moe;

    public static DecoderLayer Load(IKernelBackend backend, ModelShapes shapes, LayerKind kind, int index, TensorLookup layer)
    {
        var linear = kind == LayerKind.LinearAttention ? GatedDeltaNetMixer.Load(backend, shapes.Linear, layer.Under("linear_attn.")) : null;
        var attention = kind == LayerKind.FullAttention ? GatedAttentionMixer.Load(backend, shapes.Attention, layer.Under("self_attn.")) : null;
        return new DecoderLayer(index, kind, backend.LoadWeight(layer["input_layernorm.weight"]), backend.LoadWeight(layer["post_attention_layernorm.weight"]),
            linear, attention, MoeBlock.Load(backend, shapes.Moe, layer.Under("mlp.")));
    }

    /// <summary>Advances <paramref name="hidden"/> <c>[T, H]</c> of one sequence in place through this layer (the
    /// one-sequence batch over the session's state; the KV cache's length advances by T).</summary>
    public void Forward(IKernelBackend backend, DeviceTensor hidden, int tokens, int width, float eps, LayerState state, MoeRouting? routing)
    {
        ArgumentNullException.ThrowIfNull(state);
        var batch = SequenceBatch.Single(state.Cache?.Length ?? 0, tokens);
        Forward(backend, hidden, batch, width, eps, state.AsBatchState(), routing);
        if (state.Cache is { } cache)
        {
            cache.Length += tokens;
        }
    }

    /// <summary>Advances <paramref name="hidden"/> <c>[T_total, H]</c> of a packed batch in place through this layer, each
    /// sequence continuing from its state slot or KV pages.</summary>
    public void Forward(IKernelBackend backend, DeviceTensor hidden, SequenceBatch batch, int width, float eps, LayerBatchState state, MoeRouting? routing)
    {
        int tokens = batch.TotalTokens;
        long n = (long)tokens * width;
        using var normed = backend.Allocate(n);
        backend.Basic.RmsNorm(hidden, inputNorm, normed, tokens, width, eps, zeroCentred: true);

        // The mixer's output projection adds into the residual stream (one kernel where the backend fuses it).
        if (Linear is not null)
        {
            Linear.Forward(backend, normed, batch, state.Linear ?? throw new ArgumentException($"Layer {Index} needs a linear-attention state pool.", nameof(state)),
                hidden, accumulate: true);
        }
        else
        {
            Attention!.Forward(backend, normed, batch, state.Cache ?? throw new ArgumentException($"Layer {Index} needs a paged KV cache.", nameof(state)),
                hidden, accumulate: true);
        }

        backend.Basic.RmsNorm(hidden, postNorm, normed, tokens, width, eps, zeroCentred: true);
        Moe.Forward(backend, normed, tokens, hidden, routing, accumulate: true);
    }

    public void Dispose()
    {
        inputNorm.Dispose();
        postNorm.Dispose();
        Linear?.Dispose();
        Attention?.Dispose();
        Moe.Dispose();
    }
}

/// <summary>One layer's per-sequence state: conv + recurrent state, or a KV cache.</summary>
public sealed class LayerState(LinearAttentionState? linear, KvCache? cache) : IDisposable
{
    public LinearAttentionState? Linear { get; } = linear;

    public KvCache? Cache { get; } = cache;

    /// <summary>The same state as a pool of one slot or a paged cache of one page (views; they own nothing).</summary>
    public LayerBatchState AsBatchState()
        => new(Linear is null ? null : LinearAttentionStatePool.Of(Linear), Cache is null ? null : PagedKvCache.Of(Cache));

    public void Dispose()
    {
        Linear?.Dispose();
        Cache?.Dispose();
    }
}

/// <summary>One layer's state for a forward pass over a packed batch: the linear-attention slot pool, or the paged KV cache.</summary>
public readonly record struct LayerBatchState(LinearAttentionStatePool? Linear, PagedKvCache? Cache);
