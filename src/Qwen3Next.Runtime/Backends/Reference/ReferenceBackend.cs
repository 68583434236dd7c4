using Qwen3Next.Checkpoint;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.GatedDelta;
using Qwen3Next.Ops.Moe;

namespace Qwen3Next.Backends.Reference;

/// <summary>The C# reference: clear float32 code written from the spec. Every other backend is checked against it.</summary>
public sealed class ReferenceBackend : IKernelBackend, IBasicOps, IGatedDeltaOps, IGatedAttentionOps, IMoeOps
{
    private readonly HostRopeTable rope = new();

    public string Name => "reference";

    /// <summary>The reference is the fp32 specification; it has no fast mode.</summary>
    public Precision Precision => Precision.Exact;

    public BackendAccess Access { get; } = new("reference");

    public IBasicOps Basic => this;

    public IGatedDeltaOps GatedDelta => this;

    public IGatedAttentionOps Attention => this;

    public IMoeOps Moe => this;

    public DeviceTensor Allocate(long length)
    {
        using var use = OpContracts.Allocate(Access, length, Array.MaxLength);
        return new HostTensor(length);
    }

    public DeviceTensor Upload(ReadOnlySpan<float> data)
    {
        using var use = Access.Enter();
        var t = new HostTensor(data.Length);
        data.CopyTo(t.Data);
        return t;
    }

    public void Download(DeviceTensor source, Span<float> destination)
    {
        using var use = OpContracts.Download(Access, source, destination.Length);
        H(source).AsSpan(0, destination.Length).CopyTo(destination);
    }

    public void Synchronize() => Access.ThrowIfDisposed();

    public void Copy(DeviceTensor source, long sourceOffset, DeviceTensor destination, long destinationOffset, long length)
    {
        using var use = OpContracts.Copy(Access, source, sourceOffset, destination, destinationOffset, length);
        Array.Copy(H(source), sourceOffset, H(destination), destinationOffset, length);
    }

    public DeviceWeight LoadWeight(TensorView view)
    {
        using var use = Access.Enter();
        if (!WeightLoading.IsMatrix(view))
        {
            return HostWeight.Vector(view.Name, view.ToFloat32());
        }

        var (rows, cols) = WeightLoading.MatrixShape(view);
        return HostWeight.Matrix(view.Name, rows, cols, WeightLoading.MatrixBits(view));
    }

    public ExpertWeights LoadExperts(MoeShape shape, IReadOnlyList<ExpertTensors> experts)
    {
        if (experts.Count != shape.Experts)
        {
            throw new ArgumentException($"The MoE layer has {shape.Experts} experts but {experts.Count} were given.", nameof(experts));
        }

        var loaded = experts.Select(e => (W(LoadWeight(e.Gate)), W(LoadWeight(e.Up)), W(LoadWeight(e.Down)))).ToArray();
        foreach (var (gate, up, down) in loaded)
        {
            if (!gate.IsMatrix || gate.Rows != shape.ExpertIntermediate || gate.Cols != shape.Hidden || up.Rows != gate.Rows || up.Cols != gate.Cols
                || down.Rows != shape.Hidden || down.Cols != shape.ExpertIntermediate)
            {
                throw new ArgumentException($"Expert '{gate.Name}' is not [I, H] = [{shape.ExpertIntermediate}, {shape.Hidden}] with a matching up and down.", nameof(experts));
            }
        }

        return new HostExperts(shape, loaded);
    }

    public void Embed(ReadOnlySpan<int> tokens, DeviceWeight table, DeviceTensor y)
    {
        using var use = OpContracts.Embed(Access, tokens, table, y);
        var w = W(table);
        for (int t = 0; t < tokens.Length; t++)
        {
            Bf16.Widen(w.Bits.Slice(tokens[t] * w.Cols, w.Cols), H(y).AsSpan(t * w.Cols, w.Cols));
        }
    }

    public void RmsNorm(DeviceTensor x, DeviceWeight weight, DeviceTensor y, int rows, int dim, float eps, bool zeroCentred)
    {
        using var use = OpContracts.RmsNorm(Access, x, weight, y, rows, dim, eps);
        RmsNormReference.Run(H(x), W(weight).Values, H(y), rows, dim, eps, zeroCentred);
    }

    public void MatMul(DeviceTensor x, DeviceWeight weight, DeviceTensor y, int rows)
    {
        using var use = OpContracts.MatMul(Access, x, weight, y, rows);
        MatMulReference.Run(H(x), W(weight).Bits, H(y), rows, weight.Rows, weight.Cols);
    }

    public void Add(DeviceTensor accumulator, DeviceTensor addend, long length)
    {
        using var use = OpContracts.Add(Access, accumulator, addend, length);
        float[] acc = H(accumulator), add = H(addend);
        for (long i = 0; i < length; i++)
        {
            acc[i] += add[i];
        }
    }

    public void ArgmaxRows(DeviceTensor x, int rows, int cols, Span<int> result)
    {
        using var use = OpContracts.ArgmaxRows(Access, x, rows, cols, result.Length);
        for (int r = 0; r < rows; r++)
        {
            result[r] = ArgmaxReference.Row(H(x).AsSpan(r * cols, cols));
        }
    }

    public void Rule(GatedDeltaShape shape, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor g, DeviceTensor beta,
        DeviceTensor state, DeviceTensor o, bool l2Normalize, float scale, GatedDeltaMode mode)
    {
        using var use = OpContracts.Rule(Access, shape, q, k, v, g, beta, state, o, scale);
        GatedDeltaRuleReference.Run(shape, H(q), H(k), H(v), H(g), H(beta), H(state), H(o), l2Normalize, scale, mode);
    }

    public void Mixer(GatedDeltaNetShape shape, int tokens, DeviceTensor qkvz, DeviceTensor ba, GatedDeltaNetWeights weights,
        LinearAttentionState state, DeviceTensor y)
    {
        using var use = OpContracts.GatedDeltaNet(Access, shape, tokens, qkvz, ba, weights, state, y);
        var conv = W(weights.Conv);
        var convWeight = new float[conv.Length];
        Bf16.Widen(conv.Bits, convWeight);
        GatedDeltaNetReference.Mixer(shape, tokens, H(qkvz), H(ba), convWeight, W(weights.ALog).Values, W(weights.DtBias).Values,
            W(weights.Norm).Values, H(state.Conv), H(state.Recurrent), H(y));
    }

    public void Rule(GatedDeltaShape shape, SequenceBatch batch, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor g, DeviceTensor beta,
        DeviceTensor states, DeviceTensor o, bool l2Normalize, float scale, GatedDeltaMode mode)
    {
        using var use = OpContracts.Rule(Access, shape, batch, q, k, v, g, beta, states, o, scale);
        int qk = shape.KeyHeads * shape.KeyDim, vo = shape.ValueHeads * shape.ValueDim, heads = shape.ValueHeads, slot = heads * shape.KeyDim * shape.ValueDim;
        for (int b = 0; b < batch.Count; b++)
        {
            int t0 = batch.CuSeqlens[b], n = batch.Length(b);
            GatedDeltaRuleReference.Run(shape with { Tokens = n }, H(q).AsSpan(t0 * qk, n * qk), H(k).AsSpan(t0 * qk, n * qk), H(v).AsSpan(t0 * vo, n * vo),
                H(g).AsSpan(t0 * heads, n * heads), H(beta).AsSpan(t0 * heads, n * heads), H(states).AsSpan(batch.SlotIds[b] * slot, slot),
                H(o).AsSpan(t0 * vo, n * vo), l2Normalize, scale, mode);
        }
    }

    public void Mixer(GatedDeltaNetShape shape, SequenceBatch batch, DeviceTensor qkvz, DeviceTensor ba, GatedDeltaNetWeights weights,
        LinearAttentionStatePool states, DeviceTensor y)
    {
        using var use = OpContracts.GatedDeltaNet(Access, shape, batch, qkvz, ba, weights, states, y);
        var conv = W(weights.Conv);
        var convWeight = new float[conv.Length];
        Bf16.Widen(conv.Bits, convWeight);
        int convSlot = shape.ConvDim * shape.ConvKernel, recurrentSlot = shape.ValueHeads * shape.KeyDim * shape.ValueDim;
        for (int b = 0; b < batch.Count; b++)
        {
            int t0 = batch.CuSeqlens[b], n = batch.Length(b), slot = batch.SlotIds[b];
            GatedDeltaNetReference.Mixer(shape, n, H(qkvz).AsSpan(t0 * shape.QkvzWidth, n * shape.QkvzWidth), H(ba).AsSpan(t0 * shape.BaWidth, n * shape.BaWidth),
                convWeight, W(weights.ALog).Values, W(weights.DtBias).Values, W(weights.Norm).Values, H(states.Conv).AsSpan(slot * convSlot, convSlot),
                H(states.Recurrent).AsSpan(slot * recurrentSlot, recurrentSlot), H(y).AsSpan(t0 * shape.ValueWidth, n * shape.ValueWidth));
        }
    }

    public void Mixer(GatedAttentionShape shape, int tokens, DeviceTensor qg, DeviceTensor k, DeviceTensor v,
        DeviceWeight qNorm, DeviceWeight kNorm, KvCache cache, DeviceTensor y)
    {
        using var use = OpContracts.GatedAttention(Access, shape, tokens, qg, k, v, qNorm, kNorm, cache, y);
        Mixer(shape, SequenceBatch.Single(cache.Length, tokens), qg, k, v, qNorm, kNorm, PagedKvCache.Of(cache), y);
        cache.Length += tokens;
    }

    public void Mixer(GatedAttentionShape shape, SequenceBatch batch, DeviceTensor qg, DeviceTensor k, DeviceTensor v,
        DeviceWeight qNorm, DeviceWeight kNorm, PagedKvCache cache, DeviceTensor y)
    {
        using var use = OpContracts.GatedAttention(Access, shape, batch, qg, k, v, qNorm, kNorm, cache, y);
        var table = rope.Covering(shape, batch.MaxPositionUsed + 1);
        GatedAttentionReference.Mixer(shape, batch, H(qg), H(k), H(v), W(qNorm).Values, W(kNorm).Values, H(cache.Keys), H(cache.Values),
            cache.PageSize, table, H(y));
    }

    public void Block(MoeShape shape, int tokens, DeviceTensor x, MoeWeights weights, DeviceTensor y, MoeRouting? routing = null, bool accumulate = false)
    {
        using var use = OpContracts.MoeBlock(Access, shape, tokens, x, weights, y, routing);
        var experts = weights.Experts as HostExperts
            ?? throw new ArgumentException($"The experts were loaded by another backend ({weights.Experts.GetType().Name}).", nameof(weights));
        if (experts.Shape.Experts != shape.Experts || experts.Shape.Hidden != shape.Hidden || experts.Shape.ExpertIntermediate != shape.ExpertIntermediate)
        {
            throw new ArgumentException($"The experts were loaded for {experts.Shape}, the call says {shape}.", nameof(shape));
        }

        float[] xs = H(x), ys = H(y);
        int hidden = shape.Hidden;
        Parallel.For(0, tokens, t =>
        {
            var xt = xs.AsSpan(t * hidden, hidden);
            var logits = new float[shape.Experts];
            MatMulReference.Run(xt, W(weights.Router).Bits, logits, 1, shape.Experts, hidden);
            var selected = new int[shape.TopK];
            var routeWeights = new float[shape.TopK];
            MoeRoutingReference.Route(logits, shape.TopK, shape.NormalizeTopK, selected, routeWeights);

            var output = new float[hidden];
            var expertOut = new float[hidden];
            for (int j = 0; j < shape.TopK; j++)
            {
                var (gate, up, down) = experts.Experts[selected[j]];
                SwiGluExpertReference.Run(xt, gate.Bits, up.Bits, down.Bits, hidden, shape.ExpertIntermediate, expertOut);
                for (int i = 0; i < hidden; i++)
                {
                    output[i] += routeWeights[j] * expertOut[i];
                }
            }

            SwiGluExpertReference.Run(xt, W(weights.SharedGate).Bits, W(weights.SharedUp).Bits, W(weights.SharedDown).Bits,
                hidden, shape.SharedIntermediate, expertOut);
            float sharedGate = Activations.Sigmoid(Bf16.Dot(xt, W(weights.SharedExpertGate).Bits));
            for (int i = 0; i < hidden; i++)
            {
                float value = output[i] + (sharedGate * expertOut[i]);
                ys[(t * hidden) + i] = accumulate ? ys[(t * hidden) + i] + value : value;
            }

            if (routing is not null)
            {
                logits.CopyTo(routing.Logits, t * shape.Experts);
                selected.CopyTo(routing.Selected, t * shape.TopK);
                routeWeights.CopyTo(routing.Weights, t * shape.TopK);
            }
        });
    }

    public void Dispose() => Access.MarkDisposed();

    private static float[] H(DeviceTensor t) => t as HostTensor is { } host ? host.Data
        : throw new ArgumentException($"The tensor belongs to another backend ({t.GetType().Name}), not the reference backend.");

    private static HostWeight W(DeviceWeight w) => w as HostWeight
        ?? throw new ArgumentException($"Weight '{w.Name}' belongs to another backend ({w.GetType().Name}), not the reference backend.");

    private sealed class HostExperts(MoeShape shape, (HostWeight Gate, HostWeight Up, HostWeight Down)[] experts) : ExpertWeights
    {
        public MoeShape Shape { get; } = shape;

        public (HostWeight Gate, HostWeight Up, HostWeight Down)[] Experts { get; } = experts;

        protected override void Release()
        {
        }
    }
}
