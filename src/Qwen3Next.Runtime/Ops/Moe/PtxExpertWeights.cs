using Qwen3Next.Backends;
using Qwen3Next.Cuda;

namespace Qwen3Next.Ops.Moe;

/// <summary>
/// The routed experts of one layer as the PTX expert kernels read them: <c>gate_up</c> bf16 <c>[slots, 2I, H]</c>
/// (per slot I gate rows, then I up rows), <c>down</c> bf16 <c>[slots, H, I]</c>, and <c>expert_to_slot</c> int32
/// <c>[E]</c>. Here every expert is resident, so slots = E and expert e is in slot e; the streaming executor will
/// keep fewer slots and remap.
/// </summary>
public sealed class PtxExpertWeights : ExpertWeights
{
    private readonly DeviceBuffer<ushort> gateUp;
    private readonly DeviceBuffer<ushort> down;
    private readonly DeviceBuffer<int> expertToSlot;

    internal PtxExpertWeights(int experts, int hidden, int intermediate, DeviceBuffer<ushort> gateUp, DeviceBuffer<ushort> down,
        DeviceBuffer<int> expertToSlot)
    {
        Experts = experts;
        Hidden = hidden;
        Intermediate = intermediate;
        this.gateUp = gateUp;
        this.down = down;
        this.expertToSlot = expertToSlot;
    }

    public int Experts { get; }

    public int Slots => Experts;

    public int Hidden { get; }

    public int Intermediate { get; }

    internal DeviceSpan<ushort> GateUp => gateUp.Span;

    internal DeviceSpan<ushort> Down => down.Span;

    internal DeviceSpan<int> ExpertToSlot => expertToSlot.Span;

    protected override void Release()
    {
        gateUp.Dispose();
        down.Dispose();
        expertToSlot.Dispose();
    }
}
