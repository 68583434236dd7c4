using ILGPU;
using ILGPU.Runtime;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;

namespace Qwen3Next.Ops.Moe;

/// <summary>
/// Launchers of the sparse MoE block. One call queues, with no host synchronisation:
/// router logits (the generic matmul) → <see cref="MoeRoutingKernels.Route"/> → <see cref="MoeRoutingKernels.Permute"/>
/// → grouped <see cref="MoeExpertKernels.GateUp"/> and <see cref="MoeExpertKernels.Down"/> over the expert-sorted rows
/// → the same two kernels in dense mode for the shared expert → <see cref="MoeCombineKernels.Combine"/>.
/// Only a caller that asks for <see cref="MoeRouting"/> pays one download and one sync at the end.
/// </summary>
public sealed class IlgpuMoeOps : IMoeOps
{
    /// <summary>CUDA group size of every MoE kernel (one warp on the CPU accelerator, see <see cref="IlgpuBackend.GroupSize"/>).</summary>
    public const int CudaGroupSize = 256;

    private readonly IlgpuBackend backend;
    private readonly MoeWorkspace workspace;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<int>, int, int, int, int> route;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int> permute;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ExpertTileArgs> gateUp;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<ushort>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ExpertTileArgs> down;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int> combine;

    public IlgpuMoeOps(IlgpuBackend backend)
    {
        this.backend = backend;
        var kernels = backend.Kernels;
        workspace = new MoeWorkspace(backend.Accelerator);
        kernels.Load(out route, MoeRoutingKernels.Route);
        kernels.Load(out permute, MoeRoutingKernels.Permute);
        kernels.Load(out gateUp, MoeExpertKernels.GateUp);
        kernels.Load(out down, MoeExpertKernels.Down);
        kernels.Load(out combine, MoeCombineKernels.Combine);
    }

    public static ExpertWeights LoadExperts(IlgpuBackend backend, MoeShape shape, IReadOnlyList<ExpertTensors> experts)
        => IlgpuExpertWeights.Load(backend, shape, experts);

    private AcceleratorStream Stream => backend.Stream;

    public void Block(MoeShape shape, int tokens, DeviceTensor x, MoeWeights weights, DeviceTensor y, MoeRouting? routing = null, bool accumulate = false)
    {
        using var use = OpContracts.MoeBlock(backend.Access, shape, tokens, x, weights, y, routing);
        var experts = weights.Experts as IlgpuExpertSet
            ?? throw new ArgumentException($"MoE experts were loaded by another backend ({weights.Experts.GetType().Name}).", nameof(weights));
        Validate(shape, tokens, experts);

        int e = shape.Experts, k = shape.TopK, hidden = shape.Hidden, inter = shape.ExpertIntermediate, sharedInter = shape.SharedIntermediate;
        int pairs = tokens * k;
        var ws = workspace;
        ws.Ensure(tokens, e, k, inter, sharedInter, hidden);
        var xv = IlgpuBackend.T(x).View;
        int group = backend.GroupSize(CudaGroupSize);

        backend.Basic.MatMul(x, weights.Router, ws.LogitsTensor!, tokens);
        ws.Counts.SubView(0, e).MemSetToZero(Stream);
        route(Stream, new KernelConfig(backend.GridSize(tokens), group), ws.Logits, ws.Selected, ws.Weights, ws.Counts, tokens, e, k,
            shape.NormalizeTopK ? 1 : 0);

        // A streamed expert set makes the selected experts resident here and points SlotOf at their slots.
        experts.Prepare(backend, ws.Selected, pairs);

        // Rows per expert never exceed T, so small calls use shorter tiles and the tile bound stays tight.
        int rowTile = Math.Min(MoeExpertKernels.RowTile, tokens);
        permute(Stream, new KernelConfig(1, group), ws.Selected, ws.Counts, ws.RowOffsets, ws.TileOffsets, ws.Gather, ws.PairPos, e, pairs, rowTile);

        // Σ_e ceil(c_e / R) ≤ ceil(T·k / R) + (experts that received a row).
        int tileBound = ((pairs + rowTile - 1) / rowTile) + Math.Min(e, pairs);
        RunGateUp(xv, experts.GateUp, experts.GateUp.SubView(experts.GateUpSlotStride / 2), experts.SlotOf, ws.H,
            new ExpertTileArgs(e, k, 0, rowTile, hidden, inter, tileBound * FeatureTiles(inter), experts.GateUpSlotStride), group);
        RunDown(ws.H, experts.Down, experts.SlotOf, ws.YPerm,
            new ExpertTileArgs(e, k, 0, rowTile, inter, hidden, tileBound * FeatureTiles(hidden), experts.DownSlotStride), group);

        // The shared expert is the same SwiGLU on every token: dense mode (slot 0, row r = token r).
        int denseTiles = (tokens + rowTile - 1) / rowTile;
        var sharedGate = IlgpuBackend.W(weights.SharedGate).Bits;
        RunGateUp(xv, sharedGate, IlgpuBackend.W(weights.SharedUp).Bits, experts.SlotOf, ws.SharedH,
            new ExpertTileArgs(1, 1, tokens, rowTile, hidden, sharedInter, denseTiles * FeatureTiles(sharedInter), 0), group);
        RunDown(ws.SharedH, IlgpuBackend.W(weights.SharedDown).Bits, experts.SlotOf, ws.Shared,
            new ExpertTileArgs(1, 1, tokens, rowTile, sharedInter, hidden, denseTiles * FeatureTiles(hidden), 0), group);

        // Accumulating: the combine writes a scratch tensor and the residual add follows (the ILGPU kernels are not fused).
        using var sum = accumulate ? backend.Allocate((long)tokens * hidden) : null;
        combine(Stream, new KernelConfig(backend.GridSize(tokens), group), xv, IlgpuBackend.W(weights.SharedExpertGate).Bits, ws.YPerm, ws.Shared,
            ws.PairPos, ws.Weights, IlgpuBackend.T(sum ?? y).View, tokens, hidden, k);
        if (sum is not null)
        {
            backend.Basic.Add(y, sum, (long)tokens * hidden);
        }

        if (routing is not null)
        {
            ws.Logits.SubView(0, routing.Logits.Length).CopyToCPU(Stream, routing.Logits);
            ws.Selected.SubView(0, pairs).CopyToCPU(Stream, routing.Selected);
            ws.Weights.SubView(0, pairs).CopyToCPU(Stream, routing.Weights);
            Stream.Synchronize();
        }
    }

    private void RunGateUp(ArrayView<float> x, ArrayView<ushort> gate, ArrayView<ushort> up, ArrayView<int> slotOf, ArrayView<float> h,
        ExpertTileArgs args, int group)
        => gateUp(Stream, new KernelConfig(backend.GridSize(args.UnitBound), group), x, gate, up, slotOf, workspace.RowOffsets,
            workspace.TileOffsets, workspace.Gather, h, args);

    private void RunDown(ArrayView<float> h, ArrayView<ushort> weight, ArrayView<int> slotOf, ArrayView<float> y, ExpertTileArgs args, int group)
        => down(Stream, new KernelConfig(backend.GridSize(args.UnitBound), group), h, weight, slotOf, workspace.RowOffsets, workspace.TileOffsets,
            y, args);

    private static int FeatureTiles(int features) => (features + MoeExpertKernels.FeatureTile - 1) / MoeExpertKernels.FeatureTile;

    /// <summary>Limits of these kernels beyond the shared contract (<see cref="OpContracts.MoeBlock"/>).</summary>
    private static void Validate(MoeShape shape, int tokens, IlgpuExpertSet experts)
    {
        if (shape.Experts is < 1 or > MoeRoutingKernels.MaxExperts)
        {
            throw new ArgumentException($"MoE kernels support 1..{MoeRoutingKernels.MaxExperts} experts; got {shape.Experts}.", nameof(shape));
        }

        if (shape.TopK < 1 || shape.TopK > Math.Min(shape.Experts, MoeRoutingKernels.MaxTopK))
        {
            throw new ArgumentException($"MoE top-k must be 1..min(E, {MoeRoutingKernels.MaxTopK}); got {shape.TopK} of {shape.Experts}.", nameof(shape));
        }

        if ((long)tokens * shape.TopK * Math.Max(shape.Hidden, shape.ExpertIntermediate) > int.MaxValue)
        {
            throw new ArgumentException($"MoE call of {tokens} tokens is out of range for 32-bit row indices.", nameof(tokens));
        }

        if (experts.Shape != shape)
        {
            throw new ArgumentException($"Experts were loaded for {experts.Shape}, the call says {shape}.", nameof(shape));
        }
    }
}
