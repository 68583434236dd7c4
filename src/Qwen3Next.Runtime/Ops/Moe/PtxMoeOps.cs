using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using Qwen3Next.Streaming;
using Qwen3Next.Ops.Basic;
using static Qwen3Next.Backends.Ptx.LaunchChecks;

namespace Qwen3Next.Ops.Moe;

/// <summary>
/// Launchers of <c>kernels/moe/*.cu</c> (ABI in <c>kernels/README.md</c>). For T ≤ 8 (decode) the fused three-kernel
/// block of <c>decode_fused.cu</c> (<see cref="DecodeFused"/>); otherwise router matmul → router_topk → permute →
/// grouped mma GEMMs over 64-row tiles (launched for the upper bound E + ceil(P/64) tiles, so the host never waits
/// for the tile count), the shared expert on the basic kernels, and unpermute sums everything into y. Streamed experts
/// (<see cref="PtxStreamedExperts"/>) are looked up and copied by device kernels, so the host synchronises only when
/// <see cref="MoeRouting"/> is requested. In fast precision (sm_90a kernels embedded, H and I multiples of 8) the
/// prefill casts x to bf16 once and runs the persistent wgmma grouped GEMMs over 128-row tiles (gate/up writes h in
/// bf16 for down); the shared expert uses the same bf16 x and the fast dense GEMM.
/// </summary>
public sealed partial class PtxMoeOps(PtxBackend backend) : IMoeOps
{
    public const string RouterTopK = "moe_router_topk";
    public const string Permute = "moe_permute";
    public const string GateUpMma = "moe_expert_gate_up_mma";
    public const string DownMma = "moe_expert_down_mma";
    public const string GateUpGemv = "moe_expert_gate_up_gemv";
    public const string DownGemv = "moe_expert_down_gemv";
    public const string Unpermute = "moe_unpermute";
    public const string GateUpWgmma = "moe_expert_gate_up_wgmma";
    public const string DownWgmma = "moe_expert_down_wgmma";

    /// <summary>Rows per tile of the exact grouped GEMMs and of the fast (wgmma) ones.</summary>
    public const int ExactTileRows = 64;
    public const int FastTileRows = 128;

    /// <summary>Blocks of the persistent expert GEMMs: one per H200 SM (each needs ~195 KiB of shared memory, so one
    /// fits an SM); on a smaller GPU they queue, on a larger one SMs idle — the loop inside is correct for any count.</summary>
    public const int PersistentBlocks = 132;

    public const int MaxTopK = 32;

    /// <summary>Up to this many tokens the experts run as GEMVs in pair order, above it as grouped GEMMs.</summary>
    public const int GemvMaxTokens = 8;

    public static IReadOnlyList<string> KernelNames { get; } =
        [RouterTopK, Permute, GateUpMma, DownMma, GateUpGemv, DownGemv, Unpermute, DecodeRoute, DecodeGateUp, DecodeDownCombine, CacheAcquire, ExpertCopy];

    /// <summary>Decode with resident experts on the unfused path (router matmul, router_topk, the pair-order GEMVs,
    /// the shared expert on the basic kernels, unpermute: nine launches) instead of the three fused kernels; kept
    /// selectable to compare the two. Streamed experts always take the fused path.</summary>
    public bool UnfusedDecode { get; set; }

    /// <summary>Kernels built from <c>*_sm90a.cu</c> with CUDA 12.4: embedded only when that toolchain was found.</summary>
    public static IReadOnlyList<string> Sm90aKernelNames { get; } = [GateUpWgmma, DownWgmma];

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

    public static int MaxTiles(int experts, long pairs, int tileRows = ExactTileRows) => experts + CeilDiv(pairs, tileRows);

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
        if (kernel is GateUpWgmma or DownWgmma)
        {
            Require(hidden % 8 == 0 && intermediate % 8 == 0, kernel, $"H = {hidden} and I = {intermediate} must be multiples of 8 (16-byte rows)");
            long items = (long)MaxTiles(experts, (long)tokens * topK, FastTileRows) * (kernel == GateUpWgmma ? CeilDiv(intermediate, 128) : CeilDiv(hidden, 256));
            AtMost(kernel, "work items", items, int.MaxValue);
            return new LaunchConfig((int)Math.Min(items, PersistentBlocks), 256, PtxBasicOps.WgmmaSharedBytes);
        }

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

    public void Block(MoeShape shape, int tokens, DeviceTensor x, MoeWeights weights, DeviceTensor y, MoeRouting? routing = null, bool accumulate = false)
    {
        using var use = OpContracts.MoeBlock(backend.Access, shape, tokens, x, weights, y, routing);
        var (t, e, k, h, i) = (tokens, shape.Experts, shape.TopK, shape.Hidden, shape.ExpertIntermediate);
        Holds(Unpermute, "x", x.Length, (long)t * h);
        Holds(Unpermute, "y", y.Length, (long)t * h);
        Holds(Unpermute, "shared_gate_w", weights.SharedExpertGate.Length, h);
        bool decode = t <= GemvMaxTokens;
        DeviceSpan<float> logits;
        switch (weights.Experts)
        {
            case PtxStreamedExperts streamed:
                Require(streamed.Shape == shape, RouterTopK, $"experts were streamed for {streamed.Shape}, not {shape}");
                logits = decode ? DecodeFused(shape, t, x, weights, y, accumulate, Resident: null, streamed) : Grouped(shape, t, x, weights, y, accumulate, null, streamed);
                break;
            case PtxExpertWeights resident:
                Require(resident.Experts == e && resident.Hidden == h && resident.Intermediate == i, RouterTopK,
                    $"experts were loaded for E={resident.Experts}, H={resident.Hidden}, I={resident.Intermediate}, not E={e}, H={h}, I={i}");
                logits = decode && !UnfusedDecode ? DecodeFused(shape, t, x, weights, y, accumulate, resident, Streamed: null)
                    : Grouped(shape, t, x, weights, y, accumulate, resident, null);
                break;
            default:
                throw new ArgumentException($"The experts were loaded by another backend ({weights.Experts.GetType().Name}).", nameof(weights));
        }

        if (routing is not null)
        {
            long p = (long)t * k;
            int stride = checked((int)(logits.Length / t));
            for (int r = 0; r < t; r++)
            {
                backend.CopyToHost(logits.Slice((long)r * stride, e), routing.Logits.AsSpan(r * e, e));
            }

            backend.CopyToHost(backend.Workspace.Get<int>("moe.selected", p).Slice(0, p), routing.Selected.AsSpan(0, (int)p));
            backend.CopyToHost(backend.Workspace.Get<float>("moe.weights", p).Slice(0, p), routing.Weights.AsSpan(0, (int)p));
            backend.Synchronize();
        }
    }

    /// <summary>Router matmul, router_topk, then the pair-order GEMVs (decode, <see cref="UnfusedDecode"/>) or permute and
    /// the grouped mma GEMMs; the shared expert on the basic kernels; unpermute into y. Returns the router logits <c>[T, E]</c>.</summary>
    private DeviceSpan<float> Grouped(MoeShape shape, int t, DeviceTensor x, MoeWeights weights, DeviceTensor y, bool accumulate, PtxExpertWeights? resident,
        PtxStreamedExperts? streamed)
    {
        var (e, k, h, i, si) = (shape.Experts, shape.TopK, shape.Hidden, shape.ExpertIntermediate, shape.SharedIntermediate);
        bool gemv = t <= GemvMaxTokens;
        bool fast = !gemv && backend.PtxBasic.TensorCores && h % 8 == 0 && i % 8 == 0 && si % 8 == 0;
        long p = (long)t * k;
        var routerConfig = RouterTopKConfig(t, e, k, shape.NormalizeTopK);
        var (gateUpKernel, downKernel) = gemv ? (GateUpGemv, DownGemv) : fast ? (GateUpWgmma, DownWgmma) : (GateUpMma, DownMma);
        var (gateUpConfig, downConfig) = gemv
            ? (GemvConfig(GateUpGemv, t, k, h, i), GemvConfig(DownGemv, t, k, h, i))
            : (GroupedConfig(gateUpKernel, t, e, k, h, i), GroupedConfig(downKernel, t, e, k, h, i));
        var unpermuteConfig = UnpermuteConfig(t, h);
        streamed?.Owner.RequireRoomFor(t);

        var ws = backend.Workspace;
        var xView = PtxBackend.T(x).Span;
        var logits = ws.Get<float>("moe.logits", (long)t * e);
        var selected = ws.Get<int>("moe.selected", p);
        var routeWeights = ws.Get<float>("moe.weights", p);
        var rows = ws.Get<float>("moe.rows", p * h);
        var xb = fast ? ws.Get<ushort>("moe.x_bf16", (long)t * h) : default;
        if (fast)
        {
            // The router keeps ~fp32 accuracy (x = hi + lo, two bf16 passes) so bf16 rounding does not flip an expert
            // choice; the experts and the shared expert read hi alone.
            var xLow = ws.Get<ushort>("moe.x_bf16_lo", (long)t * h);
            backend.PtxBasic.CastToBf16(xView, xb, (long)t * h, xLow);
            backend.PtxBasic.MatMulBf16(xb, weights.Router, logits, t, accumulate: false);
            backend.PtxBasic.MatMulBf16(xLow, weights.Router, logits, t, accumulate: true);
        }
        else
        {
            backend.PtxBasic.MatMul(xView, weights.Router, logits, t, accumulate: false);
        }

        backend.Launch(RouterTopK, routerConfig, args.Clear().Add(selected).Add(routeWeights).Add(logits).Add(t).Add(e).Add(k));

        DeviceSpan<ushort> gateUp, down;
        DeviceSpan<int> expertToSlot;
        if (streamed is not null)
        {
            // The device makes every selected expert resident and writes where each one is.
            streamed.Owner.NextRouter(streamed.Layer, weights.Router);
            expertToSlot = ws.Get<int>("moe.expert_to_slot", e);
            streamed.Owner.AcquireForPrefill(streamed.Layer, selected, expertToSlot, t, k);
            (gateUp, down) = (streamed.Owner.Cache.PoolGateUp, streamed.Owner.Cache.PoolDown);
        }
        else
        {
            (gateUp, down, expertToSlot) = (resident!.GateUp, resident.Down, resident.ExpertToSlot);
        }

        DeviceSpan<int> rowOfPair = default;
        if (gemv)
        {
            var hbuf = ws.Get<float>("moe.hbuf", p * i);
            backend.Launch(GateUpGemv, gateUpConfig, args.Clear().Add(hbuf).Add(xView).Add(selected).Add(gateUp).Add(expertToSlot)
                .Add(t).Add(k).Add(h).Add(i));
            backend.Launch(DownGemv, downConfig, args.Clear().Add(rows).Add(hbuf).Add(selected).Add(down).Add(expertToSlot)
                .Add(t).Add(k).Add(h).Add(i));
        }
        else
        {
            rowOfPair = GroupedExperts(new ExpertPool(e, h, i, gateUp, down, expertToSlot), t, k, fast, xView, xb, selected, rows);
        }

        // Shared expert on the basic kernels: gate and up [T, Is], silu(gate)·up, down into shared_out [T, H].
        var sharedGate = ws.Get<float>("moe.shared_gate", (long)t * si);
        var sharedUp = ws.Get<float>("moe.shared_up", (long)t * si);
        var sharedOut = ws.Get<float>("moe.shared_out", (long)t * h);
        if (fast)
        {
            var sharedHidden = ws.Get<ushort>("moe.shared_hidden_bf16", (long)t * si);
            backend.PtxBasic.MatMulBf16(xb, weights.SharedGate, sharedGate, t, accumulate: false);
            backend.PtxBasic.MatMulBf16(xb, weights.SharedUp, sharedUp, t, accumulate: false);
            backend.PtxBasic.SiluMulRowsBf16(sharedHidden, sharedGate, sharedUp, t, si, si);
            backend.PtxBasic.MatMulBf16(sharedHidden, weights.SharedDown, sharedOut, t, accumulate: false);
        }
        else
        {
            var sharedHidden = ws.Get<float>("moe.shared_hidden", (long)t * si);
            backend.PtxBasic.MatMul(xView, weights.SharedGate, sharedGate, t, accumulate: false);
            backend.PtxBasic.MatMul(xView, weights.SharedUp, sharedUp, t, accumulate: false);
            backend.PtxBasic.SiluMulRows(sharedHidden, sharedGate, sharedUp, t, si, si);
            backend.PtxBasic.MatMul(sharedHidden, weights.SharedDown, sharedOut, t, accumulate: false);
        }

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
            .Add(t).Add(k).Add(h).Add(accumulate ? 1 : 0));
        return logits.Slice(0, (long)t * e);
    }

    /// <summary>
    /// The prefill's routed experts for the selection <paramref name="selected"/> <c>[T, k]</c>: permute, then the
    /// grouped gate/up and down GEMMs (fast: the persistent wgmma kernels on <paramref name="xb"/>, x in bf16; exact:
    /// the mma kernels on <paramref name="x"/>) into <paramref name="rows"/> <c>[P, H]</c> in permuted order. Returns
    /// row_of_pair for unpermute.
    /// </summary>
    internal DeviceSpan<int> GroupedExperts(ExpertPool experts, int t, int k, bool fast, DeviceSpan<float> x, DeviceSpan<ushort> xb,
        DeviceSpan<int> selected, DeviceSpan<float> rows)
    {
        var (e, h, i) = (experts.Experts, experts.Hidden, experts.Intermediate);
        long p = (long)t * k;
        var (gateUpKernel, downKernel) = fast ? (GateUpWgmma, DownWgmma) : (GateUpMma, DownMma);
        var (gateUpConfig, downConfig) = (GroupedConfig(gateUpKernel, t, e, k, h, i), GroupedConfig(downKernel, t, e, k, h, i));
        var permuteConfig = PermuteConfig(t, e, k);
        Holds(Permute, "selected", selected.Length, p);
        Holds(downKernel, "out", rows.Length, p * h);
        var ws = backend.Workspace;
        int tileRows = fast ? FastTileRows : ExactTileRows;
        int tiles = MaxTiles(e, p, tileRows);
        var offsets = ws.Get<int>("moe.offsets", e + 1);
        var rowToken = ws.Get<int>("moe.row_token", p);
        var rowOfPair = ws.Get<int>("moe.row_of_pair", p);
        var tileExpert = ws.Get<int>("moe.tile_expert", tiles);
        var tileRow = ws.Get<int>("moe.tile_row", tiles);
        var numTiles = ws.Get<int>("moe.num_tiles", 1);
        backend.Launch(Permute, permuteConfig, args.Clear().Add(offsets).Add(rowToken).Add(rowOfPair).Add(tileExpert).Add(tileRow)
            .Add(numTiles).Add(selected).Add(t).Add(k).Add(e).Add(tileRows));
        if (fast)
        {
            var hb = ws.Get<ushort>("moe.hbuf_bf16", p * i);
            backend.Launch(GateUpWgmma, gateUpConfig, args.Clear().Add(hb).Add(xb).Add(rowToken).Add(offsets).Add(tileExpert).Add(tileRow)
                .Add(numTiles).Add(experts.GateUp).Add(experts.ExpertToSlot).Add(h).Add(i));
            backend.Launch(DownWgmma, downConfig, args.Clear().Add(rows).Add(hb).Add(offsets).Add(tileExpert).Add(tileRow).Add(numTiles)
                .Add(experts.Down).Add(experts.ExpertToSlot).Add(h).Add(i));
        }
        else
        {
            var hbuf = ws.Get<float>("moe.hbuf", p * i);
            backend.Launch(GateUpMma, gateUpConfig, args.Clear().Add(hbuf).Add(x).Add(rowToken).Add(offsets).Add(tileExpert).Add(tileRow)
                .Add(numTiles).Add(experts.GateUp).Add(experts.ExpertToSlot).Add(h).Add(i));
            backend.Launch(DownMma, downConfig, args.Clear().Add(rows).Add(hbuf).Add(offsets).Add(tileExpert).Add(tileRow).Add(numTiles)
                .Add(experts.Down).Add(experts.ExpertToSlot).Add(h).Add(i));
        }

        return rowOfPair;
    }

    /// <summary>Where the grouped GEMMs find the experts: resident weights, or a streamed layer's slot pool with the
    /// device-written expert-to-slot map.</summary>
    internal readonly record struct ExpertPool(int Experts, int Hidden, int Intermediate, DeviceSpan<ushort> GateUp, DeviceSpan<ushort> Down,
        DeviceSpan<int> ExpertToSlot)
    {
        public static implicit operator ExpertPool(PtxExpertWeights w) => new(w.Experts, w.Hidden, w.Intermediate, w.GateUp, w.Down, w.ExpertToSlot);
    }
}
