using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using static Qwen3Next.Backends.Ptx.LaunchChecks;

namespace Qwen3Next.Ops.Moe;

/// <summary>
/// Launchers of <c>kernels/moe/*.cu</c> (ABI in <c>kernels/README.md</c>). Router matmul → router_topk, then for
/// T ≤ 8 the pair-order GEMVs (each weight byte read once per pair) and otherwise permute → grouped mma GEMMs over
/// 64-row tiles (launched for the upper bound E + ceil(P/64) tiles, so the host never waits for the tile count);
/// the shared expert runs on the basic kernels and unpermute sums everything into y. The host synchronises only
/// when <see cref="MoeRouting"/> is requested.
/// </summary>
public sealed class PtxMoeOps(PtxBackend backend) : IMoeOps
{
    public const string RouterTopK = "moe_router_topk";
    public const string Permute = "moe_permute";
    public const string GateUpMma = "moe_expert_gate_up_mma";
    public const string DownMma = "moe_expert_down_mma";
    public const string GateUpGemv = "moe_expert_gate_up_gemv";
    public const string DownGemv = "moe_expert_down_gemv";
    public const string Unpermute = "moe_unpermute";

    public const int MaxTopK = 32;

    /// <summary>Up to this many tokens the experts run as GEMVs in pair order, above it as grouped GEMMs.</summary>
    public const int GemvMaxTokens = 8;

    public static IReadOnlyList<string> KernelNames { get; } = [RouterTopK, Permute, GateUpMma, DownMma, GateUpGemv, DownGemv, Unpermute];

    private readonly KernelArguments args = new();

    internal static LaunchConfig RouterTopKConfig(int tokens, int experts, int topK, bool normalizeTopK)
    {
        Positive(RouterTopK, "T", tokens);
        Positive(RouterTopK, "E", experts);
        Positive(RouterTopK, "k", topK);
        AtMost(RouterTopK, "k", topK, Math.Min(MaxTopK, experts));
        Require(normalizeTopK, RouterTopK, "the kernel always renormalises the top-k weights (norm_topk_prob); a model without it is not supported");
        var config = new LaunchConfig(tokens, 256, 4 * experts);
        config.Validate(RouterTopK);
        return config;
    }

    public static int MaxTiles(int experts, long pairs) => experts + CeilDiv(pairs, 64);

    internal static LaunchConfig PermuteConfig(int tokens, int experts, int topK)
    {
        Positive(Permute, "T", tokens);
        Positive(Permute, "E", experts);
        var config = new LaunchConfig(1, 1024, 8 * experts);
        config.Validate(Permute);
        return config;
    }

    internal static LaunchConfig GroupedConfig(string kernel, int tokens, int experts, int topK, int hidden, int intermediate)
    {
        Positive(kernel, "H", hidden);
        Positive(kernel, "I", intermediate);
        int tiles = MaxTiles(experts, (long)tokens * topK);
        AtMost(kernel, "max_tiles = E + ceil(T·k/64)", tiles, 65535);
        return kernel == GateUpMma
            ? new LaunchConfig(new LaunchDims(CeilDiv(intermediate, 32), tiles), 128)
            : new LaunchConfig(new LaunchDims(CeilDiv(hidden, 64), tiles), 128);
    }

    internal static LaunchConfig GemvConfig(string kernel, int tokens, int topK, int hidden, int intermediate)
    {
        Positive(kernel, "H", hidden);
        Positive(kernel, "I", intermediate);
        long pairs = (long)tokens * topK;
        Positive(kernel, "P = T·k", pairs);
        AtMost(kernel, "P = T·k", pairs, 65535);
        return new LaunchConfig(new LaunchDims(CeilDiv(kernel == GateUpGemv ? intermediate : hidden, 8), (int)pairs), 256);
    }

    internal static LaunchConfig UnpermuteConfig(int tokens, int hidden)
    {
        Positive(Unpermute, "T", tokens);
        Positive(Unpermute, "H", hidden);
        return new LaunchConfig(tokens, 256);
    }

    public static ExpertWeights LoadExperts(PtxBackend backend, MoeShape shape, IReadOnlyList<ExpertTensors> experts)
    {
        int e = shape.Experts, h = shape.Hidden, i = shape.ExpertIntermediate;
        if (experts.Count != e)
        {
            throw new ArgumentException($"The MoE layer has {e} experts but {experts.Count} were given.", nameof(experts));
        }

        long gateUpLength = 2L * i * h, downLength = (long)h * i;
        var gateUp = backend.AllocateBuffer<ushort>(e * gateUpLength, "expert gate_up");
        var down = backend.AllocateBuffer<ushort>(e * downLength, "expert down");
        var slots = backend.AllocateBuffer<int>(e, "expert_to_slot");
        try
        {
            for (int x = 0; x < e; x++)
            {
                var (gate, up, dn) = (Matrix(experts[x].Gate, i, h), Matrix(experts[x].Up, i, h), Matrix(experts[x].Down, h, i));
                backend.CopyToDevice<ushort>(gate, gateUp.Span.Slice(x * gateUpLength, (long)i * h));
                backend.CopyToDevice<ushort>(up, gateUp.Span.Slice((x * gateUpLength) + ((long)i * h), (long)i * h));
                backend.CopyToDevice<ushort>(dn, down.Span.Slice(x * downLength, downLength));
            }

            backend.CopyToDevice<int>(Enumerable.Range(0, e).ToArray(), slots.Span);
            backend.Synchronize();
            return new PtxExpertWeights(e, h, i, gateUp, down, slots);
        }
        catch
        {
            gateUp.Dispose();
            down.Dispose();
            slots.Dispose();
            throw;
        }
    }

    private static ushort[] Matrix(Checkpoint.TensorView view, int rows, int cols)
    {
        var (r, c) = WeightLoading.MatrixShape(view);
        if (!WeightLoading.IsMatrix(view) || r != rows || c != cols)
        {
            throw new ArgumentException($"Expert tensor '{view.Name}' is [{string.Join(", ", view.Shape)}]; [{rows}, {cols}] expected.");
        }

        return WeightLoading.MatrixBits(view);
    }

    public void Block(MoeShape shape, int tokens, DeviceTensor x, MoeWeights weights, DeviceTensor y, MoeRouting? routing = null)
    {
        using var use = OpContracts.MoeBlock(backend.Access, shape, tokens, x, weights, y, routing);
        var experts = weights.Experts as PtxExpertWeights
            ?? throw new ArgumentException($"The experts were loaded by another backend ({weights.Experts.GetType().Name}).", nameof(weights));
        var (t, e, k, h, i, si) = (tokens, shape.Experts, shape.TopK, shape.Hidden, shape.ExpertIntermediate, shape.SharedIntermediate);
        bool gemv = t <= GemvMaxTokens;
        long p = (long)t * k;
        var routerConfig = RouterTopKConfig(t, e, k, shape.NormalizeTopK);
        var (gateUpConfig, downConfig) = gemv
            ? (GemvConfig(GateUpGemv, t, k, h, i), GemvConfig(DownGemv, t, k, h, i))
            : (GroupedConfig(GateUpMma, t, e, k, h, i), GroupedConfig(DownMma, t, e, k, h, i));
        var unpermuteConfig = UnpermuteConfig(t, h);
        Require(experts.Experts == e && experts.Hidden == h && experts.Intermediate == i, RouterTopK,
            $"experts were loaded for E={experts.Experts}, H={experts.Hidden}, I={experts.Intermediate}, not E={e}, H={h}, I={i}");
        Holds(Unpermute, "x", x.Length, (long)t * h);
        Holds(Unpermute, "y", y.Length, (long)t * h);
        Holds(Unpermute, "shared_gate_w", weights.SharedExpertGate.Length, h);

        var ws = backend.Workspace;
        var xView = PtxBackend.T(x).Span;
        var logits = ws.Get<float>("moe.logits", (long)t * e);
        var selected = ws.Get<int>("moe.selected", p);
        var routeWeights = ws.Get<float>("moe.weights", p);
        var hbuf = ws.Get<float>("moe.hbuf", p * i);
        var rows = ws.Get<float>("moe.rows", p * h);
        backend.PtxBasic.MatMul(xView, weights.Router, logits, t, accumulate: false);
        backend.Launch(RouterTopK, routerConfig, args.Clear().Add(selected).Add(routeWeights).Add(logits).Add(t).Add(e).Add(k));

        DeviceSpan<int> rowOfPair = default;
        if (gemv)
        {
            backend.Launch(GateUpGemv, gateUpConfig, args.Clear().Add(hbuf).Add(xView).Add(selected).Add(experts.GateUp).Add(experts.ExpertToSlot)
                .Add(t).Add(k).Add(h).Add(i));
            backend.Launch(DownGemv, downConfig, args.Clear().Add(rows).Add(hbuf).Add(selected).Add(experts.Down).Add(experts.ExpertToSlot)
                .Add(t).Add(k).Add(h).Add(i));
        }
        else
        {
            int tiles = MaxTiles(e, p);
            var offsets = ws.Get<int>("moe.offsets", e + 1);
            var rowToken = ws.Get<int>("moe.row_token", p);
            rowOfPair = ws.Get<int>("moe.row_of_pair", p);
            var tileExpert = ws.Get<int>("moe.tile_expert", tiles);
            var tileRow = ws.Get<int>("moe.tile_row", tiles);
            var numTiles = ws.Get<int>("moe.num_tiles", 1);
            backend.Launch(Permute, PermuteConfig(t, e, k), args.Clear().Add(offsets).Add(rowToken).Add(rowOfPair).Add(tileExpert).Add(tileRow)
                .Add(numTiles).Add(selected).Add(t).Add(k).Add(e));
            backend.Launch(GateUpMma, gateUpConfig, args.Clear().Add(hbuf).Add(xView).Add(rowToken).Add(offsets).Add(tileExpert).Add(tileRow)
                .Add(numTiles).Add(experts.GateUp).Add(experts.ExpertToSlot).Add(h).Add(i));
            backend.Launch(DownMma, downConfig, args.Clear().Add(rows).Add(hbuf).Add(offsets).Add(tileExpert).Add(tileRow).Add(numTiles)
                .Add(experts.Down).Add(experts.ExpertToSlot).Add(h).Add(i));
        }

        // Shared expert on the basic kernels: gate and up [T, Is], silu(gate)·up, down into shared_out [T, H].
        var sharedGate = ws.Get<float>("moe.shared_gate", (long)t * si);
        var sharedUp = ws.Get<float>("moe.shared_up", (long)t * si);
        var sharedHidden = ws.Get<float>("moe.shared_hidden", (long)t * si);
        var sharedOut = ws.Get<float>("moe.shared_out", (long)t * h);
        backend.PtxBasic.MatMul(xView, weights.SharedGate, sharedGate, t, accumulate: false);
        backend.PtxBasic.MatMul(xView, weights.SharedUp, sharedUp, t, accumulate: false);
        backend.PtxBasic.SiluMulRows(sharedHidden, sharedGate, sharedUp, t, si, si);
        backend.PtxBasic.MatMul(sharedHidden, weights.SharedDown, sharedOut, t, accumulate: false);

        args.Clear().Add(PtxBackend.T(y).Span).Add(rows);
        if (gemv)
        {
            args.AddNull();
        }
        else
        {
            args.Add(rowOfPair);
        }

        backend.Launch(Unpermute, unpermuteConfig, args.Add(routeWeights).Add(sharedOut).Add(xView).Add(PtxBackend.W(weights.SharedExpertGate).Bits)
            .Add(t).Add(k).Add(h).Add(0));

        if (routing is not null)
        {
            backend.CopyToHost(logits.Slice(0, (long)t * e), routing.Logits);
            backend.CopyToHost(selected.Slice(0, p), routing.Selected);
            backend.CopyToHost(routeWeights.Slice(0, p), routing.Weights);
            backend.Synchronize();
        }
    }
}
