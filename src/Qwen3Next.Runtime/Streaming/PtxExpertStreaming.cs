using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using Qwen3Next.Ops.Moe;

namespace Qwen3Next.Streaming;

/// <summary>
/// Routed-expert streaming on the ptx backend with no host round trip: experts live in mapped pinned host memory
/// (<see cref="MappedExpertStore"/>), a fixed pool of device slots caches them (<see cref="DeviceExpertCache"/>), and
/// the lookup, the replacement and the service of a miss happen in kernels (<c>kernels/moe/expert_cache.cuh</c>):
/// at decode a missed expert is read straight from mapped memory while the same kernel writes it into its new slot,
/// and the routing kernel predicts the next layer's experts (its router applied to this layer's input) and leaves
/// copy jobs that a copy kernel on the copy stream carries out while this layer computes. The compute stream waits
/// for a prefetch (an event, on the device) only before the kernels that may read it; that wait is timed with
/// events, collected whenever the host synchronises anyway. Prefill makes every selected expert resident with a
/// device-side acquire and a copy kernel before the grouped GEMMs. The cache starts warm: the most used experts of
/// an earlier run (<see cref="ExpertRoutingCounts"/>), or an equal share of every layer.
/// </summary>
public sealed class PtxExpertStreaming : IExpertStreaming
{
    private readonly PtxBackend backend;
    private readonly MoeShape shape;
    private readonly bool predict;
    private readonly int[] warmSlotOfKey;
    private readonly int[] hostKeySlot;
    private readonly int[] hostSlotKey;
    private readonly int[] hostSlotCount;
    private readonly PtxWeight?[] routers;
    private readonly KernelArguments args = new();
    private readonly EventHandle routed;
    private readonly EventHandle[] prefetched;
    private readonly EventHandle[] stallStart;
    private readonly EventHandle[] stallEnd;
    private int stallsRecorded;
    private int? pendingPrefetch;
    private double stallSeconds;
    private long unmeasuredWaits;
    private bool disposed;

    internal PtxExpertStreaming(PtxBackend backend, MoeShape shape, int layers, int slots, ExpertRoutingCounts? warm, bool predict)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        if (slots < shape.TopK)
        {
            throw new ArgumentOutOfRangeException(nameof(slots), slots, $"An expert cache needs at least top-k = {shape.TopK} slots; got {slots}.");
        }

        if (slots > (long)layers * shape.Experts)
        {
            throw new ArgumentOutOfRangeException(nameof(slots), slots,
                $"{slots} slots is more than the {layers} x {shape.Experts} = {(long)layers * shape.Experts} routed experts there are; keep every expert resident instead.");
        }

        warm?.RequireShape(layers, shape.Experts);
        this.backend = backend;
        this.shape = shape;
        this.predict = predict;
        Layers = layers;
        Slots = slots;
        long keys = (long)layers * shape.Experts;
        warmSlotOfKey = new int[keys];
        Array.Fill(warmSlotOfKey, -1);
        var warmKeys = ExpertRoutingCounts.WarmKeys(layers, shape.Experts, slots, warm);
        for (int s = 0; s < warmKeys.Length; s++)
        {
            warmSlotOfKey[warmKeys[s]] = s;
        }

        hostKeySlot = new int[keys];
        Array.Fill(hostKeySlot, -1);
        hostSlotKey = new int[slots];
        Array.Fill(hostSlotKey, -1);
        hostSlotCount = new int[slots];
        routers = new PtxWeight?[layers];
        Store = new MappedExpertStore(backend.Driver, shape);
        var driver = backend.Driver;
        try
        {
            Cache = new DeviceExpertCache(backend, shape, layers, slots);
            routed = driver.CreateEvent(timing: false, "expert routing done");
            prefetched = [driver.CreateEvent(false, "expert prefetch 0"), driver.CreateEvent(false, "expert prefetch 1")];
            stallStart = Enumerable.Range(0, (2 * layers) + 2).Select(_ => driver.CreateEvent(timing: true, "prefetch wait start")).ToArray();
            stallEnd = Enumerable.Range(0, (2 * layers) + 2).Select(_ => driver.CreateEvent(timing: true, "prefetch wait end")).ToArray();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>MoE layers the cache was sized for.</summary>
    public int Layers { get; }

    public int Slots { get; }

    /// <summary>Bytes of one routed expert (gate + up + down, bf16).</summary>
    public long ExpertBytes => Store.ExpertBytes;

    /// <summary>Waits for the compute stream on the device that the prefetch timing events could not record because
    /// the host had not synchronised for a long time (they are not in <see cref="StreamingStatistics.StallSeconds"/>).</summary>
    public long UnmeasuredWaits => unmeasuredWaits;

    internal MappedExpertStore Store { get; }

    internal DeviceExpertCache Cache { get; } = null!;

    public StreamingStatistics Statistics
    {
        get
        {
            using var use = backend.Access.Enter();
            var v = Cache.ReadStatistics();
            return new StreamingStatistics
            {
                ExpertHits = (long)v[0],
                ExpertMisses = (long)v[1],
                Evictions = (long)v[2],
                ExpertBytesReadMapped = (long)v[3],
                ExpertBytesCopied = (long)(v[3] + v[4]),
                PredictionHits = (long)v[5],
                PredictionLookups = (long)v[6],
                ExpertPrefetches = (long)v[7],
                StallSeconds = stallSeconds,
            };
        }
    }

    public void ResetStatistics()
    {
        using var use = backend.Access.Enter();
        Cache.ResetStatistics();
        stallSeconds = 0;
        unmeasuredWaits = 0;
    }

    public ExpertRoutingCounts RoutingCounts()
    {
        using var use = backend.Access.Enter();
        return ExpertRoutingCounts.FromFlat(Layers, shape.Experts, Cache.ReadRoutingCounts());
    }

    ExpertRoutingCounts? IExpertStreaming.RoutingCounts() => RoutingCounts();

    /// <summary>Copies one MoE layer's experts into mapped host memory, puts its warm-start experts into their slots,
    /// and returns the expert set the MoE op will use.</summary>
    internal PtxStreamedExperts Register(MoeShape layerShape, IReadOnlyList<ExpertTensors> experts)
    {
        if (layerShape != shape)
        {
            throw new ArgumentException($"Every MoE layer must have the streaming shape {shape}; got {layerShape}.", nameof(layerShape));
        }

        if (Store.Layers >= Layers)
        {
            throw new InvalidOperationException($"Expert streaming was set up for {Layers} MoE layers; a layer {Store.Layers + 1} was loaded.");
        }

        int layer = Store.Add(experts);
        Cache.SetHostLayer(layer, Store.DeviceGateUp(layer), Store.DeviceDown(layer));
        int e = shape.Experts;
        for (int x = 0; x < e; x++)
        {
            int key = (layer * e) + x, slot = warmSlotOfKey[key];
            if (slot < 0)
            {
                continue;
            }

            unsafe
            {
                var gateUp = Cache.SlotGateUp(slot);
                var down = Cache.SlotDown(slot);
                backend.Driver.CopyHostToDeviceAsync(gateUp.Address, Store.Host(layer, Store.GateUp(x)), gateUp.ByteLength, backend.Stream, "a warm expert slot");
                backend.Driver.CopyHostToDeviceAsync(down.Address, Store.Host(layer, Store.Down(x)), down.ByteLength, backend.Stream, "a warm expert slot");
            }

            hostKeySlot[key] = slot;
            hostSlotKey[slot] = key;
            hostSlotCount[slot] = 1;
        }

        backend.CopyToDevice<int>(hostKeySlot.AsSpan(layer * e, e), Cache.KeySlot.Slice((long)layer * e, e));
        backend.CopyToDevice<int>(hostSlotKey, Cache.SlotKey);
        backend.CopyToDevice<int>(hostSlotCount, Cache.SlotCount);
        return new PtxStreamedExperts(this, layer, shape);
    }

    /// <summary>Records <paramref name="router"/> as layer <paramref name="layer"/>'s and returns the next layer's router
    /// when this layer should predict it (prediction on, a next layer exists and its router was seen in an earlier pass).</summary>
    internal DeviceSpan<ushort>? NextRouter(int layer, DeviceWeight router)
    {
        routers[layer] = PtxBackend.W(router);
        if (!predict || layer + 1 >= Layers || routers[layer + 1] is not { IsDisposed: false } next)
        {
            return null;
        }

        return next.Bits;
    }

    /// <summary>After the decode routing kernel: the compute stream waits for the prefetch the previous layer issued (timed
    /// with events), and this layer's prefetch jobs, if it predicted, are copied on the copy stream once routing is done.</summary>
    internal void AfterDecodeRouting(int layer, int jobSet, bool predicted, int tokens)
    {
        if (backend.IsSizing)
        {
            return; // a sizing pass records no events and leaves no prefetch pending
        }

        WaitForPrefetch();
        if (!predicted)
        {
            return;
        }

        var driver = backend.Driver;
        driver.RecordEvent(routed, backend.Stream, "expert routing done");
        driver.StreamWaitEvent(backend.CopyStream, routed, "the copy stream waits for expert routing");
        LaunchCopy(jobSet, Math.Min(shape.Experts, shape.TopK * tokens), backend.CopyStream);
        driver.RecordEvent(prefetched[jobSet], backend.CopyStream, $"expert prefetch for layer {layer + 1}");
        pendingPrefetch = jobSet;
    }

    /// <summary>A prefill chunk needs every distinct expert it selects in a slot at once.</summary>
    internal void RequireRoomFor(int tokens)
    {
        if (tokens <= PtxMoeOps.GemvMaxTokens)
        {
            return; // decode serves a miss without a slot if it must (straight from mapped memory)
        }

        long distinct = Math.Min(shape.Experts, (long)tokens * shape.TopK);
        if (distinct > Slots)
        {
            throw new InvalidOperationException($"A forward pass of {tokens} tokens may select {distinct} experts of one layer but the expert cache has "
                + $"{Slots} slots; lower --prefill-chunk or raise --device-memory.");
        }
    }

    /// <summary>Prefill: the device makes the selected experts of <paramref name="layer"/> resident (writing
    /// <paramref name="expertToSlot"/>) and copies the misses on the compute stream before the grouped GEMMs read them.</summary>
    internal void AcquireForPrefill(int layer, DeviceSpan<int> selected, DeviceSpan<int> expertToSlot, int tokens, int topK)
    {
        WaitForPrefetch();
        int e = shape.Experts;
        var config = new LaunchConfig(1, 1024, 6 * 4 * e);
        config.Validate(PtxMoeOps.CacheAcquire);
        backend.Launch(PtxMoeOps.CacheAcquire, config, args.Clear().Add(expertToSlot).Add(selected).Add(Cache.Descriptor).Add(0).Add(layer)
            .Add(tokens).Add(topK));
        LaunchCopy(0, (int)Math.Min(e, (long)tokens * topK), backend.Stream);
    }

    /// <summary>Called after the host synchronised with the compute stream: every timing event recorded so far has passed.</summary>
    internal void CollectStalls()
    {
        for (int i = 0; i < stallsRecorded; i++)
        {
            stallSeconds += backend.Driver.ElapsedMilliseconds(stallStart[i], stallEnd[i], "a prefetch wait") / 1e3;
        }

        stallsRecorded = 0;
    }

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        var driver = backend.Driver;
        foreach (var e in new[] { routed }.Concat(prefetched ?? []).Concat(stallStart ?? []).Concat(stallEnd ?? []).Where(e => e.Value != 0))
        {
            driver.DestroyEvent(e, "an expert streaming event");
        }

        Cache?.Dispose();
        Store.Dispose();
    }

    private void WaitForPrefetch()
    {
        if (pendingPrefetch is not { } set)
        {
            return;
        }

        pendingPrefetch = null;
        var driver = backend.Driver;
        if (stallsRecorded < stallStart.Length)
        {
            driver.RecordEvent(stallStart[stallsRecorded], backend.Stream, "prefetch wait start");
            driver.StreamWaitEvent(backend.Stream, prefetched[set], "the compute stream waits for an expert prefetch");
            driver.RecordEvent(stallEnd[stallsRecorded], backend.Stream, "prefetch wait end");
            stallsRecorded++;
        }
        else
        {
            driver.StreamWaitEvent(backend.Stream, prefetched[set], "the compute stream waits for an expert prefetch");
            unmeasuredWaits++;
        }
    }

    private void LaunchCopy(int jobSet, int maxJobs, StreamHandle stream)
    {
        // About 64 KiB of one expert per CTA; the CTAs of one job share its bytes.
        int ctas = (int)Math.Clamp(Store.ExpertBytes / (64 * 1024), 1, 1024);
        var config = new LaunchConfig(new LaunchDims(ctas, Math.Max(1, maxJobs)), 256);
        var jobs = Cache.Jobs.Slice((long)jobSet * shape.Experts * 4, (long)shape.Experts * 4);
        backend.Launch(PtxMoeOps.ExpertCopy, config, args.Clear().Add(jobs).Add(Cache.JobCount, jobSet).Add(Cache.GateUpElements).Add(Cache.DownElements),
            stream);
    }
}

/// <summary>One MoE layer's routed experts served by a <see cref="PtxExpertStreaming"/> cache.</summary>
public sealed class PtxStreamedExperts : ExpertWeights
{
    internal PtxStreamedExperts(PtxExpertStreaming owner, int layer, MoeShape shape)
    {
        Owner = owner;
        Layer = layer;
        Shape = shape;
    }

    /// <summary>The cache's index of this MoE layer (load order).</summary>
    public int Layer { get; }

    public MoeShape Shape { get; }

    internal PtxExpertStreaming Owner { get; }

    /// <summary>The mapped host memory and the slots belong to the streaming owner, freed with it.</summary>
    protected override void Release()
    {
    }
}
