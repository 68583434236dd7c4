using ILGPU;
using ILGPU.Runtime;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;

namespace Qwen3Next.Ops.Moe;

/// <summary>
/// Routed experts as the grouped kernels read them: slot-indexed pools <c>GateUp [slots, 2·I, H]</c> and
/// <c>Down [slots, H, I]</c> (bf16 bits) and <c>SlotOf [E]</c>. Either every expert is resident
/// (<see cref="IlgpuExpertWeights"/>) or a cache streams the selected ones in (<c>Streaming.StreamedExperts</c>).
/// </summary>
public abstract class IlgpuExpertSet : ExpertWeights
{
    public abstract MoeShape Shape { get; }

    public abstract ArrayView<ushort> GateUp { get; }

    public abstract ArrayView<ushort> Down { get; }

    public abstract ArrayView<int> SlotOf { get; }

    /// <summary>Elements of one slot in <see cref="GateUp"/>: 2·I·H.</summary>
    public long GateUpSlotStride => 2L * Shape.ExpertIntermediate * Shape.Hidden;

    /// <summary>Elements of one slot in <see cref="Down"/>: H·I.</summary>
    public long DownSlotStride => (long)Shape.Hidden * Shape.ExpertIntermediate;

    /// <summary>Called after routing with the selected expert ids <c>[pairs]</c> on the device, before the expert
    /// GEMMs. Resident sets have nothing to do.</summary>
    public virtual void Prepare(IlgpuBackend backend, ArrayView<int> selected, int pairs)
    {
    }
}
