using Qwen3Next.Checkpoint;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.GatedDelta;
using Qwen3Next.Ops.Moe;

namespace Qwen3Next.Backends.Reference;

/// <summary>The C# reference: clear float32 code written from the spec. Every other backend is checked against it.</summary>
public sealed class ReferenceBackend : IKernelBackend, IBasicOps, IGatedDeltaOps, IGatedAttentionOps, IMoeOps
{
    public string Name => "reference";

    public IBasicOps Basic => this;

    public IGatedDeltaOps GatedDelta => this;

    public IGatedAttentionOps Attention => this;

    public IMoeOps Moe => this;

    public DeviceTensor Allocate(long length) => new HostTensor(length);

    public DeviceTensor Upload(ReadOnlySpan<float> data)
    {
        var t = new HostTensor(data.Length);
        data.CopyTo(t.Data);
        return t;
    }

    public void Download(DeviceTensor source, Span<float> destination) => H(source).AsSpan(0, destination.Length).CopyTo(destination);

    public void Synchronize()
    {
    }

    public void Copy(DeviceTensor source, long sourceOffset, DeviceTensor destination, long destinationOffset, long length)
        => Array.Copy(H(source), sourceOffset, H(destination), destinationOffset, length);

    public DeviceWeight LoadWeight(TensorView view)
    {
        if (!WeightLoading.IsMatrix(view))
        {
            return HostWeight.Vector(view.Name, view.ToFloat32());
        }

        var (rows, cols) = WeightLoading.MatrixShape(view);
        return HostWeight.Matrix(view.Name, rows, cols, WeightLoading.MatrixBits(view));
    }

    public ExpertWeights LoadExperts(MoeShape shape, IReadOnlyList<ExpertTensors> experts)
        => new HostExperts(experts.Select(e => (W(LoadWeight(e.Gate)), W(LoadWeight(e.Up)), W(LoadWeight(e.Down)))).ToArray());

    public void Embed(ReadOnlySpan<int> tokens, DeviceWeight table, DeviceTensor y)
    {
        var w = W(table);
        for (int t = 0; t < tokens.Length; t++)
        {
            Bf16.Widen(w.Bits.Slice(tokens[t] * w.Cols, w.Cols), H(y).AsSpan(t * w.Cols, w.Cols));
        }
    }

    public void RmsNorm(DeviceTensor x, DeviceWeight weight, DeviceTensor y, int rows, int dim, float eps, bool zeroCentred)
        => RmsNormReference.Run(H(x), W(weight).Values, H(y), rows, dim, eps, zeroCentred);

    public void MatMul(DeviceTensor x, DeviceWeight weight, DeviceTensor y, int rows)
        => MatMulReference.Run(H(x), W(weight).Bits, H(y), rows, weight.Rows, weight.Cols);

    public void Add(DeviceTensor accumulator, DeviceTensor addend, long length)
    {
        float[] acc = H(accumulator), add = H(addend);
        for (long i = 0; i < length; i++)
        {
            acc[i] += add[i];
        }
    }

    public void ArgmaxRows(DeviceTensor x, int rows, int cols, Span<int> result)
    {
        for (int r = 0; r < rows; r++)
        {
            result[r] = ArgmaxReference.Row(H(x).AsSpan(r * cols, cols));
        }
    }

    public void Rule(GatedDeltaShape shape, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor g, DeviceTensor beta,
        DeviceTensor state, DeviceTensor o, bool l2Normalize, float scale, GatedDeltaMode mode)
        => GatedDeltaRuleReference.Run(shape, H(q), H(k), H(v), H(g), H(beta), H(state), H(o), l2Normalize, scale, mode);

    public void Mixer(GatedDeltaNetShape shape, int tokens, DeviceTensor qkvz, DeviceTensor ba, GatedDeltaNetWeights weights,
        LinearAttentionState state, DeviceTensor y)
    {
        var conv = W(weights.Conv);
        var convWeight = new float[conv.Length];
        Bf16.Widen(conv.Bits, convWeight);
        GatedDeltaNetReference.Mixer(shape, tokens, H(qkvz), H(ba), convWeight, W(weights.ALog).Values, W(weights.DtBias).Values,
            W(weights.Norm).Values, H(state.Conv), H(state.Recurrent), H(y));
    }

    public void Mixer(GatedAttentionShape shape, int tokens, DeviceTensor qg, DeviceTensor k, DeviceTensor v,
        DeviceWeight qNorm, DeviceWeight kNorm, KvCache cache, DeviceTensor y)
    {
        KvCapacity.Check(cache, tokens);
        GatedAttentionReference.Mixer(shape, tokens, H(qg), H(k), H(v), W(qNorm).Values, W(kNorm).Values,
            H(cache.Keys), H(cache.Values), cache.Capacity, cache.Length, H(y));
        cache.Length += tokens;
    }

    public void Block(MoeShape shape, int tokens, DeviceTensor x, MoeWeights weights, DeviceTensor y, MoeRouting? routing = null)
    {
        var experts = (HostExperts)weights.Experts;
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
                ys[(t * hidden) + i] = output[i] + (sharedGate * expertOut[i]);
            }

            if (routing is not null)
            {
                logits.CopyTo(routing.Logits, t * shape.Experts);
                selected.CopyTo(routing.Selected, t * shape.TopK);
                routeWeights.CopyTo(routing.Weights, t * shape.TopK);
            }
        });
    }

    public void Dispose()
    {
    }

    private static float[] H(DeviceTensor t) => ((HostTensor)t).Data;

    private static HostWeight W(DeviceWeight w) => (HostWeight)w;

    private sealed class HostExperts((HostWeight Gate, HostWeight Up, HostWeight Down)[] experts) : ExpertWeights
    {
        public (HostWeight Gate, HostWeight Up, HostWeight Down)[] Experts { get; } = experts;

        public override void Dispose()
        {
        }
    }
}
