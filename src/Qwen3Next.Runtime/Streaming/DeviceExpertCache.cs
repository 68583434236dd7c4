using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;

namespace Qwen3Next.Streaming;

/// <summary>
/// The device memory of the expert cache (<c>struct ExpertCache</c> in <c>kernels/moe/expert_cache.cuh</c>): the slot
/// pools, the lookup tables and the replacement state, statistics, routing counts, predictions and copy jobs, plus
/// the descriptor kernels receive (20 fields of 8 bytes, in the order of the struct). Only kernels change the state
/// once decoding starts; the host writes it while the model loads (the warm start) and reads the statistics.
/// </summary>
internal sealed class DeviceExpertCache : IDisposable
{
    /// <summary>Counters of <c>ExpertCache::stats</c>, in order (CACHE_STAT_*).</summary>
    public const int StatCount = 8;

    private readonly PtxBackend backend;
    private readonly List<IDisposable> owned = [];
    private readonly ulong[] hostGateUp;
    private readonly ulong[] hostDown;

    public DeviceExpertCache(PtxBackend backend, MoeShape shape, int layers, int slots)
    {
        this.backend = backend;
        (Experts, Layers, Slots) = (shape.Experts, layers, slots);
        GateUpElements = 2L * shape.ExpertIntermediate * shape.Hidden;
        DownElements = (long)shape.Hidden * shape.ExpertIntermediate;
        long keys = (long)layers * shape.Experts;
        hostGateUp = new ulong[layers];
        hostDown = new ulong[layers];
        try
        {
            PoolGateUpBuffer = Own(backend.AllocateBuffer<ushort>(slots * GateUpElements, "expert cache gate_up slots"));
            PoolDownBuffer = Own(backend.AllocateBuffer<ushort>(slots * DownElements, "expert cache down slots"));
            HostGateUp = Own(backend.AllocateBuffer<ulong>(layers, "expert cache host gate_up table")).Span;
            HostDown = Own(backend.AllocateBuffer<ulong>(layers, "expert cache host down table")).Span;
            KeySlot = Own(backend.AllocateBuffer<int>(keys, "expert cache key_slot")).Span;
            SlotKey = Own(backend.AllocateBuffer<int>(slots, "expert cache slot_key")).Span;
            SlotCount = Own(backend.AllocateBuffer<int>(slots, "expert cache slot_count")).Span;
            SlotStamp = Own(backend.AllocateBuffer<uint>(slots, "expert cache slot_stamp")).Span;
            Control = Own(backend.AllocateBuffer<uint>(2, "expert cache control")).Span;
            Stats = Own(backend.AllocateBuffer<ulong>(StatCount, "expert cache statistics")).Span;
            UseCount = Own(backend.AllocateBuffer<uint>(keys, "expert routing counts")).Span;
            Predicted = Own(backend.AllocateBuffer<int>(keys, "expert predictions")).Span;
            PredictedCount = Own(backend.AllocateBuffer<int>(layers, "expert prediction counts")).Span;
            Jobs = Own(backend.AllocateBuffer<ulong>(2L * shape.Experts * 4, "expert copy jobs")).Span;
            JobCount = Own(backend.AllocateBuffer<int>(2, "expert copy job counts")).Span;
            Descriptor = Own(backend.AllocateBuffer<ulong>(20, "expert cache descriptor")).Span;

            var driver = backend.Driver;
            var stream = backend.Stream;
            void Fill<T>(DeviceSpan<T> span, uint value)
                where T : unmanaged => driver.MemsetD32Async(span.Address, value, span.ByteLength / 4, stream, "expert cache state");
            Fill(HostGateUp, 0);
            Fill(HostDown, 0);
            Fill(KeySlot, uint.MaxValue);
            Fill(SlotKey, uint.MaxValue);
            Fill(SlotCount, 0);
            Fill(SlotStamp, 0);
            Fill(Control, 0);
            Fill(Stats, 0);
            Fill(UseCount, 0);
            Fill(Predicted, 0);
            Fill(PredictedCount, 0);
            Fill(Jobs, 0);
            Fill(JobCount, 0);
            backend.CopyToDevice<ulong>(DescriptorFields(), Descriptor);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Experts { get; }

    public int Layers { get; }

    public int Slots { get; }

    public long GateUpElements { get; }

    public long DownElements { get; }

    public DeviceSpan<ushort> PoolGateUp => PoolGateUpBuffer.Span;

    public DeviceSpan<ushort> PoolDown => PoolDownBuffer.Span;

    public DeviceSpan<ulong> Descriptor { get; }

    public DeviceSpan<int> KeySlot { get; }

    public DeviceSpan<int> SlotKey { get; }

    public DeviceSpan<int> SlotCount { get; }

    public DeviceSpan<uint> UseCount { get; }

    public DeviceSpan<ulong> Jobs { get; }

    public DeviceSpan<int> JobCount { get; }

    private DeviceBuffer<ushort> PoolGateUpBuffer { get; } = null!;

    private DeviceBuffer<ushort> PoolDownBuffer { get; } = null!;

    private DeviceSpan<ulong> HostGateUp { get; }

    private DeviceSpan<ulong> HostDown { get; }

    private DeviceSpan<uint> SlotStamp { get; }

    private DeviceSpan<uint> Control { get; }

    private DeviceSpan<ulong> Stats { get; }

    private DeviceSpan<int> Predicted { get; }

    private DeviceSpan<int> PredictedCount { get; }

    /// <summary>Tells kernels where layer <paramref name="layer"/>'s experts are in mapped host memory.</summary>
    public void SetHostLayer(int layer, DevicePointer gateUp, DevicePointer down)
    {
        hostGateUp[layer] = gateUp.Address;
        hostDown[layer] = down.Address;
        backend.CopyToDevice<ulong>(hostGateUp.AsSpan(layer, 1), HostGateUp.Slice(layer, 1));
        backend.CopyToDevice<ulong>(hostDown.AsSpan(layer, 1), HostDown.Slice(layer, 1));
    }

    /// <summary>The pool's gate_up rows of <paramref name="slot"/>.</summary>
    public DeviceSpan<ushort> SlotGateUp(int slot) => PoolGateUp.Slice(slot * GateUpElements, GateUpElements);

    public DeviceSpan<ushort> SlotDown(int slot) => PoolDown.Slice(slot * DownElements, DownElements);

    /// <summary>The statistics counters (CACHE_STAT_*), read on the compute stream; the host waits for them.</summary>
    public ulong[] ReadStatistics()
    {
        var values = new ulong[StatCount];
        backend.CopyToHost(Stats, values);
        backend.Synchronize();
        return values;
    }

    public void ResetStatistics() => backend.Driver.MemsetD32Async(Stats.Address, 0, Stats.ByteLength / 4, backend.Stream, "expert cache statistics");

    /// <summary>Selections per (layer, expert) so far, <c>[L·E]</c> (the host waits for them).</summary>
    public uint[] ReadRoutingCounts()
    {
        var values = new uint[UseCount.Length];
        backend.CopyToHost(UseCount, values);
        backend.Synchronize();
        return values;
    }

    public void Dispose()
    {
        for (int i = owned.Count - 1; i >= 0; i--)
        {
            owned[i].Dispose();
        }

        owned.Clear();
    }

    private ulong[] DescriptorFields() =>
    [
        (ulong)Experts, (ulong)Layers, (ulong)Slots, (ulong)GateUpElements, (ulong)DownElements,
        PoolGateUp.Address.Address, PoolDown.Address.Address, HostGateUp.Address.Address, HostDown.Address.Address,
        KeySlot.Address.Address, SlotKey.Address.Address, SlotCount.Address.Address, SlotStamp.Address.Address,
        Control.Address.Address, Stats.Address.Address, UseCount.Address.Address, Predicted.Address.Address,
        PredictedCount.Address.Address, Jobs.Address.Address, JobCount.Address.Address,
    ];

    private DeviceBuffer<T> Own<T>(DeviceBuffer<T> buffer)
        where T : unmanaged
    {
        owned.Add(buffer);
        return buffer;
    }
}
