using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.Moe;

namespace Qwen3Next.Tests.Ops.Moe;

/// <summary>
/// A generated MoE block: x ~ U(-1, 1) and weights ~ U(-1, 1)/sqrt(fan-in) rounded to bf16, so every dot product and the
/// output are O(1). Holds the host bits, loads the weights on any backend and computes the expected result with the C# references
/// (the same steps as the reference backend's block).
/// </summary>
internal sealed class MoeCase
{
    public MoeCase(MoeShape shape, int tokens, int seed)
    {
        Shape = shape;
        Tokens = tokens;
        var random = new Random(seed);
        int h = shape.Hidden, i = shape.ExpertIntermediate, s = shape.SharedIntermediate;
        X = Enumerable.Range(0, tokens * h).Select(_ => (random.NextSingle() * 2) - 1).ToArray();
        Router = Matrix(random, shape.Experts, h);
        Gate = Enumerable.Range(0, shape.Experts).Select(_ => Matrix(random, i, h)).ToArray();
        Up = Enumerable.Range(0, shape.Experts).Select(_ => Matrix(random, i, h)).ToArray();
        Down = Enumerable.Range(0, shape.Experts).Select(_ => Matrix(random, h, i)).ToArray();
        SharedGate = Matrix(random, s, h);
        SharedUp = Matrix(random, s, h);
        SharedDown = Matrix(random, h, s);
        SharedExpertGate = Matrix(random, 1, h);
    }

    public MoeShape Shape { get; }

    public int Tokens { get; }

    public float[] X { get; }

    public ushort[] Router { get; }

    public ushort[][] Gate { get; }

    public ushort[][] Up { get; }

    public ushort[][] Down { get; }

    public ushort[] SharedGate { get; }

    public ushort[] SharedUp { get; }

    public ushort[] SharedDown { get; }

    public ushort[] SharedExpertGate { get; }

    public static ushort[] Matrix(Random random, int rows, int cols)
    {
        float scale = 1f / MathF.Sqrt(cols);
        return Enumerable.Range(0, rows * cols).Select(_ => Bf16.FromFloat(((random.NextSingle() * 2) - 1) * scale)).ToArray();
    }

    public MoeWeights Load(IKernelBackend b)
    {
        int h = Shape.Hidden, i = Shape.ExpertIntermediate, s = Shape.SharedIntermediate;
        var experts = Enumerable.Range(0, Shape.Experts).Select(e => new ExpertTensors(
            TensorView.FromBf16($"experts.{e}.gate_proj.weight", [i, h], Gate[e]), TensorView.FromBf16($"experts.{e}.up_proj.weight", [i, h], Up[e]),
            TensorView.FromBf16($"experts.{e}.down_proj.weight", [h, i], Down[e]))).ToList();
        var loaded = new List<IDisposable>();
        try
        {
            DeviceWeight Matrix(string name, ushort[] bits, int rows, int cols)
            {
                var weight = b.LoadWeight(TensorView.FromBf16(name, [rows, cols], bits));
                loaded.Add(weight);
                return weight;
            }

            var router = Matrix("gate.weight", Router, Shape.Experts, h);
            var sharedGate = Matrix("shared_expert.gate_proj.weight", SharedGate, s, h);
            var sharedUp = Matrix("shared_expert.up_proj.weight", SharedUp, s, h);
            var sharedDown = Matrix("shared_expert.down_proj.weight", SharedDown, h, s);
            var sharedExpertGate = Matrix("shared_expert_gate.weight", SharedExpertGate, 1, h);
            return new MoeWeights(router, b.LoadExperts(Shape, experts), sharedGate, sharedUp, sharedDown, sharedExpertGate);
        }
        catch
        {
            loaded.ForEach(w => w.Dispose());
            throw;
        }
    }

    /// <summary>Runs the block on any backend with weights from <see cref="Load"/>; returns y and the routing it reported.</summary>
    public (float[] Y, MoeRouting Routing) Run(IKernelBackend b, MoeWeights weights, float[]? x = null)
    {
        using var xd = b.Upload(x ?? X);
        using var y = b.Allocate((long)Tokens * Shape.Hidden);
        var routing = new MoeRouting(Tokens, Shape);
        b.Moe.Block(Shape, Tokens, xd, weights, y, routing);
        var result = new float[Tokens * Shape.Hidden];
        b.Download(y, result);
        return (result, routing);
    }

    /// <summary>Runs the block on <paramref name="b"/>; returns y <c>[T, H]</c> and the routing it reported.</summary>
    public (float[] Y, MoeRouting Routing) Run(IKernelBackend b)
    {
        using var weights = Load(b);
        using var x = b.Upload(X);
        using var y = b.Allocate((long)Tokens * Shape.Hidden);
        var routing = new MoeRouting(Tokens, Shape);
        b.Moe.Block(Shape, Tokens, x, weights, y, routing);
        var result = new float[Tokens * Shape.Hidden];
        b.Download(y, result);
        return (result, routing);
    }

    /// <summary>The reference: router matmul, <see cref="MoeRoutingReference"/>, Σ w_j·expert_j in rank order, gated shared expert.</summary>
    public (float[] Y, MoeRouting Routing) RunReference()
    {
        int h = Shape.Hidden, k = Shape.TopK;
        var y = new float[Tokens * h];
        var routing = new MoeRouting(Tokens, Shape);
        var expertOut = new float[h];
        for (int t = 0; t < Tokens; t++)
        {
            var xt = X.AsSpan(t * h, h);
            var logits = routing.Logits.AsSpan(t * Shape.Experts, Shape.Experts);
            MatMulReference.Run(xt, Router, logits, 1, Shape.Experts, h);
            var selected = routing.Selected.AsSpan(t * k, k);
            var weights = routing.Weights.AsSpan(t * k, k);
            MoeRoutingReference.Route(logits, k, Shape.NormalizeTopK, selected, weights);
            var output = y.AsSpan(t * h, h);
            for (int j = 0; j < k; j++)
            {
                int e = selected[j];
                SwiGluExpertReference.Run(xt, Gate[e], Up[e], Down[e], h, Shape.ExpertIntermediate, expertOut);
                for (int c = 0; c < h; c++)
                {
                    output[c] += weights[j] * expertOut[c];
                }
            }

            SwiGluExpertReference.Run(xt, SharedGate, SharedUp, SharedDown, h, Shape.SharedIntermediate, expertOut);
            float gate = Activations.Sigmoid(Bf16.Dot(xt, SharedExpertGate));
            for (int c = 0; c < h; c++)
            {
                output[c] += gate * expertOut[c];
            }
        }

        return (y, routing);
    }
}
