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
public sealed class IlgpuExpertWeights : IlgpuExpertSet
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

    public override MoeShape Shape { get; }

    public int Slots { get; }

    public override ArrayView<ushort> GateUp => gateUp.View;

    public override ArrayView<ushort> Down => down.View;

    public override ArrayView<int> SlotOf => slotOf.View;

    /// <summary>Uploads every expert into its own slot (slot = expert id), one tensor at a time so no
    /// layer-sized host array is ever built.</summary>
    public static IlgpuExpertWeights Load(IlgpuBackend backend, MoeShape shape, IReadOnlyList<ExpertTensors> experts)
    {
        if (experts.Count != shape.Experts)
        {
            throw new ArgumentException($"MoE layer has {experts.Count} experts, the shape says {shape.Experts}.", nameof(experts));
        }

        int h = shape.Hidden, i = shape.ExpertIntermediate;
        return FromBits(backend, shape, e => (Bits(experts[e].Gate, i, h), Bits(experts[e].Up, i, h), Bits(experts[e].Down, h, i)));
    }

    /// <summary>Uploads expert e's bf16 bits, gate and up <c>[I, H]</c> and down <c>[H, I]</c>, into slot e.</summary>
    public static IlgpuExpertWeights FromBits(IlgpuBackend backend, MoeShape shape, Func<int, (ushort[] Gate, ushort[] Up, ushort[] Down)> bitsOf)
    {
        int count = shape.Experts;
        long block = (long)shape.ExpertIntermediate * shape.Hidden;
        var a = backend.Accelerator;
        var gateUp = a.Allocate1D<ushort>(Math.Max(1, 2 * block * count));
        var down = a.Allocate1D<ushort>(Math.Max(1, block * count));
        var slotOf = a.Allocate1D<int>(Math.Max(1, count));
        try
        {
            for (int e = 0; e < count; e++)
            {
                long slot = e;
                var (gate, up, dn) = bitsOf(e);
                if (gate.Length != block || up.Length != block || dn.Length != block)
                {
                    throw new ArgumentException($"Expert {e} has {gate.Length}/{up.Length}/{dn.Length} gate/up/down values; expected {block} each.");
                }

                gateUp.View.SubView(slot * 2 * block, block).CopyFromCPU(backend.Stream, gate);
                gateUp.View.SubView((slot * 2 * block) + block, block).CopyFromCPU(backend.Stream, up);
                down.View.SubView(slot * block, block).CopyFromCPU(backend.Stream, dn);
            }

            slotOf.View.SubView(0, count).CopyFromCPU(backend.Stream, Enumerable.Range(0, count).ToArray());
            return new IlgpuExpertWeights(shape, count, gateUp, down, slotOf);
        }
        catch
        {
            gateUp.Dispose();
            down.Dispose();
            slotOf.Dispose();
            throw;
        }
    }

    private static ushort[] Bits(Checkpoint.TensorView view, int rows, int cols)
    {
        var (r, c) = WeightLoading.MatrixShape(view);
        if (!WeightLoading.IsMatrix(view) || r != rows || c != cols)
        {
            throw new ArgumentException($"Expert tensor '{view.Name}' is [{string.Join(", ", view.Shape)}]; expected [{rows}, {cols}].");
        }

        return WeightLoading.MatrixBits(view);
    }

    protected override void Release()
    {
        gateUp.Dispose();
        down.Dispose();
        slotOf.Dispose();
    }
}
