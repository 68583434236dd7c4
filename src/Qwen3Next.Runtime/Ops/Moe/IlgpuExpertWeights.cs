using ILGPU;
using ILGPU.Runtime;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;

namespace Qwen3Next.Ops.Moe;

/// <summary>
/// The routed experts of one layer packed for the grouped kernels, all bf16 bits:
/// <c>GateUp [slots, 2·I, H]</c> (the I gate rows of a slot, then its I up rows) and <c>Down [slots, H, I]</c>.
/// <c>SlotOf [E]</c> maps an expert id to the slot holding its weights; every kernel goes through it so a
/// streaming executor can later keep only some experts resident (identity while all of them are loaded).
/// </summary>
public sealed class IlgpuExpertWeights : ExpertWeights
{
    private readonly MemoryBuffer1D<ushort, Stride1D.Dense> gateUp;
    private readonly MemoryBuffer1D<ushort, Stride1D.Dense> down;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> slotOf;

    private IlgpuExpertWeights(MoeShape shape, int slots, MemoryBuffer1D<ushort, Stride1D.Dense> gateUp,
        MemoryBuffer1D<ushort, Stride1D.Dense> down, MemoryBuffer1D<int, Stride1D.Dense> slotOf)
    {
        Shape = shape;
        Slots = slots;
        this.gateUp = gateUp;
        this.down = down;
        this.slotOf = slotOf;
    }

    public MoeShape Shape { get; }

    public int Slots { get; }

    public ArrayView<ushort> GateUp => gateUp.View;

    public ArrayView<ushort> Down => down.View;

    public ArrayView<int> SlotOf => slotOf.View;

    /// <summary>Elements of one slot in <see cref="GateUp"/>: 2·I·H.</summary>
    public long GateUpSlotStride => 2L * Shape.ExpertIntermediate * Shape.Hidden;

    /// <summary>Elements of one slot in <see cref="Down"/>: H·I.</summary>
    public long DownSlotStride => (long)Shape.Hidden * Shape.ExpertIntermediate;

    /// <summary>Uploads every expert into its own slot (slot = expert id), one tensor at a time so no
    /// layer-sized host array is ever built.</summary>
    public static IlgpuExpertWeights Load(IlgpuBackend backend, MoeShape shape, IReadOnlyList<ExpertTensors> experts)
    {
        if (experts.Count != shape.Experts)
        {
            throw new ArgumentException($"MoE layer has {experts.Count} experts, the shape says {shape.Experts}.", nameof(experts));
        }

        int h = shape.Hidden, i = shape.ExpertIntermediate;
        long block = (long)i * h;
        var a = backend.Accelerator;
        var gateUp = a.Allocate1D<ushort>(Math.Max(1, 2 * block * experts.Count));
        var down = a.Allocate1D<ushort>(Math.Max(1, block * experts.Count));
        var slotOf = a.Allocate1D<int>(Math.Max(1, experts.Count));
        try
        {
            for (int e = 0; e < experts.Count; e++)
            {
                long slot = e;
                Put(backend, experts[e].Gate, i, h, gateUp.View.SubView(slot * 2 * block, block));
                Put(backend, experts[e].Up, i, h, gateUp.View.SubView((slot * 2 * block) + block, block));
                Put(backend, experts[e].Down, h, i, down.View.SubView(slot * block, block));
            }

            slotOf.View.SubView(0, experts.Count).CopyFromCPU(backend.Stream, Enumerable.Range(0, experts.Count).ToArray());
            return new IlgpuExpertWeights(shape, experts.Count, gateUp, down, slotOf);
        }
        catch
        {
            gateUp.Dispose();
            down.Dispose();
            slotOf.Dispose();
            throw;
        }
    }

    private static void Put(IlgpuBackend backend, Checkpoint.TensorView view, int rows, int cols, ArrayView<ushort> destination)
    {
        var (r, c) = WeightLoading.MatrixShape(view);
        if (!WeightLoading.IsMatrix(view) || r != rows || c != cols)
        {
            throw new ArgumentException($"Expert tensor '{view.Name}' is [{string.Join(", ", view.Shape)}]; expected [{rows}, {cols}].");
        }

        destination.CopyFromCPU(backend.Stream, WeightLoading.MatrixBits(view));
    }

    public override void Dispose()
    {
        gateUp.Dispose();
        down.Dispose();
        slotOf.Dispose();
    }
}
