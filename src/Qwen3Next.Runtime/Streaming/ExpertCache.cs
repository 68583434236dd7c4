using System.Diagnostics;
using ILGPU;
using ILGPU.Runtime;
using Qwen3Next.Cuda;
using Qwen3Next.Device;

namespace Qwen3Next.Streaming;

/// <summary>
/// A fixed number of device slots, each holding one routed expert (<c>[2·I·H]</c> gate+up and <c>[H·I]</c> down,
/// bf16), shared by all layers. A layer asks for the experts its router chose; misses are copied from the
/// <see cref="HostExpertStore"/> on the copy stream into slots freed by the replacement policy.
/// </summary>
public sealed class ExpertCache : IDisposable
{
    private readonly ComputeDevice device;
    private readonly HostExpertStore store;
    private readonly IExpertReplacementPolicy policy;
    private readonly MemoryBuffer1D<ushort, Stride1D.Dense> gateUp;
    private readonly MemoryBuffer1D<ushort, Stride1D.Dense> down;
    private readonly Dictionary<ExpertKey, int> slotOf = [];
    private readonly Stack<int> free = new();
    private readonly CudaEvent? copiesLanded;

    public ExpertCache(ComputeDevice device, HostExpertStore store, int slots, IExpertReplacementPolicy? policy = null)
    {
        if (slots < store.Shape.TopK)
        {
            throw new ArgumentException($"An expert cache needs at least top-k = {store.Shape.TopK} slots; got {slots}.");
        }

        this.device = device;
        this.store = store;
        this.policy = policy ?? new LruReplacementPolicy();
        Slots = slots;
        gateUp = device.Accelerator.Allocate1D<ushort>(slots * store.GateUpStride);
        down = device.Accelerator.Allocate1D<ushort>(slots * store.DownStride);
        copiesLanded = device.IsCuda ? CudaEvent.Create(device, timing: false) : null;
        for (int s = slots - 1; s >= 0; s--)
        {
            free.Push(s);
        }
    }

    public int Slots { get; }

    public StreamingStatistics Statistics { get; } = new();

    public ArrayView<ushort> GateUp => gateUp.View;

    public ArrayView<ushort> Down => down.View;

    public int Resident => slotOf.Count;

    /// <summary>
    /// Makes <paramref name="experts"/> of <paramref name="layer"/> resident and returns their slots (same order).
    /// Copies are queued on the copy stream. On CUDA an event makes the compute stream wait for them on the device;
    /// on the CPU accelerator the host waits, and that wait is counted as stall time.
    /// </summary>
    public int[] Acquire(int layer, IReadOnlyList<int> experts)
    {
        if (experts.Count > Slots)
        {
            throw new InvalidOperationException($"Layer {layer} needs {experts.Count} experts at once but the cache has {Slots} slots; "
                + "lower --prefill-chunk or raise --device-memory.");
        }

        var wanted = experts.Select(e => new ExpertKey(layer, e)).ToHashSet();
        var slots = new int[experts.Count];
        bool copied = false;
        for (int i = 0; i < experts.Count; i++)
        {
            var key = new ExpertKey(layer, experts[i]);
            if (slotOf.TryGetValue(key, out int slot))
            {
                Statistics.ExpertHits++;
            }
            else
            {
                slot = free.Count > 0 ? free.Pop() : Evict(wanted);
                store.CopyToDevice(key, gateUp.View.SubView(slot * store.GateUpStride, store.GateUpStride),
                    down.View.SubView(slot * store.DownStride, store.DownStride), device.Copy);
                slotOf[key] = slot;
                Statistics.ExpertMisses++;
                Statistics.ExpertBytesCopied += store.ExpertBytes;
                copied = true;
            }

            policy.Used(key);
            slots[i] = slot;
        }

        if (copied)
        {
            if (copiesLanded is not null)
            {
                // On CUDA the compute stream waits for the copies on the device; the host goes on queuing work.
                copiesLanded.Record(device.Copy);
                copiesLanded.MakeWait(device.Compute);
            }
            else
            {
                var wait = Stopwatch.StartNew();
                device.Copy.Synchronize();
                Statistics.StallSeconds += wait.Elapsed.TotalSeconds;
            }
        }

        return slots;
    }

    public void Dispose()
    {
        copiesLanded?.Dispose();
        gateUp.Dispose();
        down.Dispose();
    }

    private int Evict(HashSet<ExpertKey> keep)
    {
        var candidates = slotOf.Keys.Where(k => !keep.Contains(k)).ToList();
        var victim = policy.ChooseVictim(candidates);
        int slot = slotOf[victim];
        slotOf.Remove(victim);
        policy.Removed(victim);
        Statistics.Evictions++;
        return slot;
    }
}
