using ILGPU;
using ILGPU.Runtime;
using Qwen3Next.Backends;

namespace Qwen3Next.Ops.Moe;

/// <summary>
/// The routed experts of one layer as the PTX expert kernels read them: <c>gate_up</c> bf16 <c>[slots, 2I, H]</c>
/// (per slot I gate rows, then I up rows), <c>down</c> bf16 <c>[slots, H, I]</c>, and <c>expert_to_slot</c> int32
/// <c>[E]</c>. Here every expert is resident, so slots = E and expert e is in slot e; the streaming executor will
/// keep fewer slots and remap.
/// </summary>
public sealed class PtxExpertWeights(int experts, int hidden, int intermediate, MemoryBuffer1D<ushort, Stride1D.Dense> gateUp,
    MemoryBuffer1D<ushort, Stride1D.Dense> down, MemoryBuffer1D<int, Stride1D.Dense> expertToSlot) : ExpertWeights
{
    public int Experts { get; } = experts;

    public int Slots => Experts;

    public int Hidden { get; } = hidden;

    public int Intermediate { get; } = intermediate;

    internal ArrayView<ushort> GateUp => gateUp.View;

    internal ArrayView<ushort> Down => down.View;

    internal ArrayView<int> ExpertToSlot => expertToSlot.View;

    protected override void Release()
    {
        gateUp.Dispose();
        down.Dispose();
        expertToSlot.Dispose();
    }
}
