using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Qwen3Next.Cuda;

/// <summary>
/// <see cref="ICudaDriver"/> on host memory: the shared part of every driver without a GPU. Memory comes from a
/// <see cref="HostAllocationTable"/> and every copy, memset and pointer argument is checked against it before it
/// happens. Stream work runs at once, in call order, or — with <see cref="DeferStreamWork"/> — waits in its stream's
/// queue until the host needs it (a synchronisation, a copy into pageable memory, a free), so work another stream
/// depends on without an event has not run yet and the missing dependency shows (stale data, an uninitialised
/// read), as it may on a GPU. While a stream captures a graph its work is recorded, and a graph launch replays it,
/// re-checking the memory it touches.
/// The misuses a GPU reports are reported the same way (<see cref="CudaErrors"/>): unknown handles, out-of-range
/// copies, kernels reading unmapped host memory, more dynamic shared memory than the function opted into,
/// allocating, freeing or synchronising during a capture. What a launch computes is up to <see cref="RunKernel"/>.
/// </summary>
internal abstract unsafe class HostMemoryDriver : ICudaDriver
{
    private const int DefaultDynamicSharedBytes = PtxKernel.DefaultDynamicSharedBytes;

    private readonly IDriverMemory memory;
    private readonly Dictionary<ulong, List<Action>?> streams = [];
    private readonly Dictionary<ulong, StreamQueue> queues = [];
    private readonly Dictionary<ulong, HostEvent> events = [];
    private readonly Dictionary<ulong, HostModule> modules = [];
    private readonly Dictionary<ulong, HostFunction> functions = [];
    private readonly Dictionary<ulong, List<Action>> graphs = [];
    private readonly Dictionary<ulong, Action[]> executables = [];
    private long nextHandle = 0x1000;
    private bool disposed;

    /// <summary>A driver on <paramref name="memory"/> (owned: disposed with the driver); plain host memory by default.</summary>
    protected HostMemoryDriver(IDriverMemory? memory = null) => this.memory = memory ?? new HostAllocationTable();

    public abstract string Description { get; }

    private ulong NewHandle() => (ulong)Interlocked.Increment(ref nextHandle);

    public CudaDriverCounters Counters { get; } = new();

    /// <summary>The allocations live now (device and host).</summary>
    public int LiveAllocations => memory.Count;

    /// <summary>A loaded module: its name, its text and the parameter types of each <c>.entry</c>.</summary>
    protected sealed record HostModule(string Name, string Ptx, IReadOnlyDictionary<string, string[]> Entries);

    /// <summary>A resolved kernel and the dynamic shared memory it has opted into.</summary>
    protected sealed class HostFunction(HostModule module, string name, string[] parameters)
    {
        public HostModule Module { get; } = module;

        public string Name { get; } = name;

        public IReadOnlyList<string> Parameters { get; } = parameters;

        public int MaxDynamicSharedBytes { get; set; } = DefaultDynamicSharedBytes;
    }

    private sealed class HostEvent(bool timing)
    {
        public bool Timing { get; } = timing;

        public long? RecordedAt { get; set; }

        /// <summary>The stream and queue position of the last record: waiting for the event means running that
        /// stream up to there.</summary>
        public StreamQueue? Stream { get; set; }

        public long Ticket { get; set; }
    }

    /// <summary>Work submitted to one stream and not run yet (only with <see cref="DeferStreamWork"/>).</summary>
    private sealed class StreamQueue
    {
        public Queue<(long Ticket, Action Work)> Pending { get; } = new();

        public long Submitted { get; set; }

        /// <summary>Runs the stream's work up to <paramref name="ticket"/>, in order. Work that fails (a kernel fault)
        /// takes the rest of the stream's queue with it, as a fault ends a GPU context's pending work.</summary>
        public void RunTo(long ticket)
        {
            while (Pending.Count > 0 && Pending.Peek().Ticket <= ticket)
            {
                var (_, work) = Pending.Dequeue();
                try
                {
                    work();
                }
                catch
                {
                    Pending.Clear();
                    throw;
                }
            }
        }
    }

    /// <summary>Stream work waits until the host needs it instead of running at submission (the emulated GPU).</summary>
    protected virtual bool DeferStreamWork => false;

    /// <summary>Runs one checked launch when its stream reaches it (at once, or at graph replay);
    /// <paramref name="arguments"/> are the 8-byte parameter values in signature order.</summary>
    protected abstract void RunKernel(HostFunction function, LaunchConfig config, ulong[] arguments);

    public DevicePointer Allocate(long bytes, string subject)
    {
        RefuseDuringCapture("cuMemAlloc", subject);
        var allocation = memory.Allocate(bytes, HostAllocationKind.Device, "cuMemAlloc", subject);
        Counters.CountAllocation();
        return new DevicePointer(allocation.Start);
    }

    public void Free(DevicePointer pointer, string subject)
    {
        if (disposed)
        {
            return;
        }

        RefuseDuringCapture("cuMemFree", subject);
        RunAllStreams();
        memory.Free(pointer.Address, "cuMemFree", subject, HostAllocationKind.Device);
        Counters.CountFree();
    }

    public void MemsetD8Async(DevicePointer destination, byte value, long bytes, StreamHandle stream, string subject)
    {
        const string call = "cuMemsetD8Async";
        Submit(stream, call, subject, () => memory.Require(destination.Address, bytes, deviceVisible: true, call, subject),
            () => memory.Fill8(destination.Address, value, bytes));
        Counters.CountMemset();
    }

    public void MemsetD32Async(DevicePointer destination, uint value, long count, StreamHandle stream, string subject)
    {
        const string call = "cuMemsetD32Async";
        if (destination.Address % 4 != 0)
        {
            throw CudaErrors.Create(CudaErrors.InvalidValue, call, subject, $"{destination} is not 4-byte aligned");
        }

        Submit(stream, call, subject, () => memory.Require(destination.Address, checked(count * 4), deviceVisible: true, call, subject),
            () => memory.Fill32(destination.Address, value, count));
        Counters.CountMemset();
    }

    public void CopyHostToDeviceAsync(DevicePointer destination, void* source, long bytes, StreamHandle stream, string subject)
    {
        const string call = "cuMemcpyHtoDAsync";
        var host = (ulong)source;
        RequireCapturableHost(stream, host, bytes, call, subject);
        if (DeferStreamWork && memory.Find(host, bytes) is null)
        {
            // From pageable memory the call returns once the source has been read: stage a copy of it now.
            var staged = new ReadOnlySpan<byte>((void*)host, checked((int)bytes)).ToArray();
            Submit(stream, call, subject, () => memory.Require(destination.Address, bytes, deviceVisible: true, call, subject), () =>
            {
                fixed (byte* from = staged)
                {
                    memory.Copy(destination.Address, (ulong)from, bytes);
                }
            });
        }
        else
        {
            Submit(stream, call, subject, () => memory.Require(destination.Address, bytes, deviceVisible: true, call, subject),
                () => memory.Copy(destination.Address, host, bytes));
        }

        Counters.CountCopy(CopyDirection.HostToDevice, bytes);
    }

    public void CopyDeviceToHostAsync(void* destination, DevicePointer source, long bytes, StreamHandle stream, string subject)
    {
        const string call = "cuMemcpyDtoHAsync";
        var host = (ulong)destination;
        RequireCapturableHost(stream, host, bytes, call, subject);
        Submit(stream, call, subject, () => memory.Require(source.Address, bytes, deviceVisible: true, call, subject),
            () => memory.Copy(host, source.Address, bytes));
        if (DeferStreamWork && Capture(stream, call, subject) is null && memory.Find(host, bytes) is null)
        {
            // Into pageable memory the copy is synchronous: it has happened when the call returns.
            Queue(stream, call, subject).RunTo(long.MaxValue);
        }

        Counters.CountCopy(CopyDirection.DeviceToHost, bytes);
    }

    public void CopyDeviceToDeviceAsync(DevicePointer destination, DevicePointer source, long bytes, StreamHandle stream, string subject)
    {
        const string call = "cuMemcpyDtoDAsync";
        Submit(stream, call, subject, () =>
        {
            memory.Require(source.Address, bytes, deviceVisible: true, call, subject);
            memory.Require(destination.Address, bytes, deviceVisible: true, call, subject);
        }, () => memory.Copy(destination.Address, source.Address, bytes));
        Counters.CountCopy(CopyDirection.DeviceToDevice, bytes);
    }

    public IntPtr AllocateHost(long bytes, bool mapped, string subject)
    {
        RefuseDuringCapture("cuMemHostAlloc", subject);
        var kind = mapped ? HostAllocationKind.MappedHost : HostAllocationKind.PageLockedHost;
        var allocation = memory.Allocate(bytes, kind, "cuMemHostAlloc", subject);
        Counters.CountHostAllocation();
        return (IntPtr)(long)allocation.Start;
    }

    public void FreeHost(IntPtr host, string subject)
    {
        if (disposed)
        {
            return;
        }

        RefuseDuringCapture("cuMemFreeHost", subject);
        RunAllStreams();
        memory.Free((ulong)(long)host, "cuMemFreeHost", subject, HostAllocationKind.PageLockedHost, HostAllocationKind.MappedHost);
    }

    /// <summary>Mapped host memory has the same address on both sides (as with unified addressing on a GPU).</summary>
    public DevicePointer MappedDevicePointer(IntPtr host, string subject)
    {
        var allocation = memory.Find((ulong)(long)host, 0);
        if (allocation is not { Kind: HostAllocationKind.MappedHost })
        {
            throw CudaErrors.Create(CudaErrors.InvalidValue, "cuMemHostGetDevicePointer", subject, $"0x{(long)host:x} is not in mapped host memory");
        }

        return new DevicePointer((ulong)(long)host);
    }

    public StreamHandle CreateStream(bool nonBlocking, string subject)
    {
        lock (streams)
        {
            var handle = new StreamHandle(NewHandle());
            streams.Add(handle.Value, null);
            queues.Add(handle.Value, new StreamQueue());
            return handle;
        }
    }

    public void DestroyStream(StreamHandle stream, string subject)
    {
        if (disposed)
        {
            return;
        }

        lock (streams)
        {
            RequireStream(stream, "cuStreamDestroy", subject);
            streams.Remove(stream.Value);
            queues.Remove(stream.Value, out var queue);
            queue?.RunTo(long.MaxValue);
        }
    }

    public void SynchronizeStream(StreamHandle stream, string subject)
    {
        const string call = "cuStreamSynchronize";
        if (Capture(stream, call, subject) is not null)
        {
            throw CudaErrors.Create(CudaErrors.CaptureUnsupported, call, subject, "the stream is capturing a graph");
        }

        Queue(stream, call, subject).RunTo(long.MaxValue);
        Counters.CountHostSynchronization();
    }

    public EventHandle CreateEvent(bool timing, string subject)
    {
        lock (events)
        {
            var handle = new EventHandle(NewHandle());
            events.Add(handle.Value, new HostEvent(timing));
            return handle;
        }
    }

    public void RecordEvent(EventHandle cudaEvent, StreamHandle stream, string subject)
    {
        var recorded = Event(cudaEvent, "cuEventRecord", subject);
        Submit(stream, "cuEventRecord", subject, () => { }, () => recorded.RecordedAt = Stopwatch.GetTimestamp());
        if (Capture(stream, "cuEventRecord", subject) is null)
        {
            var queue = Queue(stream, "cuEventRecord", subject);
            recorded.Stream = queue;
            recorded.Ticket = queue.Submitted;
        }
    }

    /// <summary>Later work on <paramref name="stream"/> runs only after the event's stream has run up to the record.</summary>
    public void StreamWaitEvent(StreamHandle stream, EventHandle cudaEvent, string subject)
    {
        var awaited = Event(cudaEvent, "cuStreamWaitEvent", subject);
        var (source, ticket) = (awaited.Stream, awaited.Ticket);
        Submit(stream, "cuStreamWaitEvent", subject, () => { }, () => source?.RunTo(ticket));
    }

    public void SynchronizeEvent(EventHandle cudaEvent, string subject)
    {
        var awaited = Event(cudaEvent, "cuEventSynchronize", subject);
        RefuseDuringCapture("cuEventSynchronize", subject);
        awaited.Stream?.RunTo(awaited.Ticket);
        Counters.CountHostSynchronization();
    }

    public float ElapsedMilliseconds(EventHandle start, EventHandle end, string subject)
    {
        const string call = "cuEventElapsedTime";
        var (first, last) = (Event(start, call, subject), Event(end, call, subject));
        if (!first.Timing || !last.Timing)
        {
            throw CudaErrors.Create(CudaErrors.InvalidHandle, call, subject, "an event was created without timing");
        }

        if (first.RecordedAt is not { } from || last.RecordedAt is not { } to)
        {
            throw CudaErrors.Create(CudaErrors.InvalidHandle, call, subject, "an event has not been recorded");
        }

        return (float)Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;
    }

    public void DestroyEvent(EventHandle cudaEvent, string subject)
    {
        if (disposed)
        {
            return;
        }

        lock (events)
        {
            Event(cudaEvent, "cuEventDestroy", subject);
            events.Remove(cudaEvent.Value);
        }
    }

    public KernelModuleHandle LoadModule(string name, string ptx)
    {
        lock (modules)
        {
            var handle = new KernelModuleHandle(NewHandle());
            modules.Add(handle.Value, new HostModule(name, ptx, PtxSignatures.Parse(ptx)));
            return handle;
        }
    }

    public FunctionHandle GetFunction(KernelModuleHandle module, string entry, string subject)
    {
        const string call = "cuModuleGetFunction";
        lock (modules)
        {
            var loaded = modules.GetValueOrDefault(module.Value) ?? throw CudaErrors.Create(CudaErrors.InvalidHandle, call, subject);
            var parameters = loaded.Entries.GetValueOrDefault(entry)
                ?? throw CudaErrors.Create(CudaErrors.NotFound, call, subject, $"{loaded.Name} has no .entry '{entry}'");
            var handle = new FunctionHandle(NewHandle());
            functions.Add(handle.Value, new HostFunction(loaded, entry, parameters));
            return handle;
        }
    }

    public void SetMaxDynamicSharedBytes(FunctionHandle function, int bytes, string subject)
    {
        const string call = "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)";
        var resolved = Function(function, call, subject);
        if (bytes < 0 || bytes > LaunchConfig.MaxDynamicSharedBytes)
        {
            throw CudaErrors.Create(CudaErrors.InvalidValue, call, subject, $"requested {bytes} bytes");
        }

        resolved.MaxDynamicSharedBytes = bytes;
    }

    public void UnloadModule(KernelModuleHandle module, string subject)
    {
        if (disposed)
        {
            return;
        }

        lock (modules)
        {
            var loaded = modules.GetValueOrDefault(module.Value) ?? throw CudaErrors.Create(CudaErrors.InvalidHandle, "cuModuleUnload", subject);
            modules.Remove(module.Value);
            foreach (var stale in functions.Where(f => f.Value.Module == loaded).Select(f => f.Key).ToList())
            {
                functions.Remove(stale);
            }
        }
    }

    /// <summary>Checks the configuration against the sm_90 limits and the function's shared-memory opt-in, the
    /// arguments against the kernel's <c>.entry</c> parameters, and every non-null pointer argument against the
    /// device-visible allocations (again at replay, when captured), then hands the launch to <see cref="RunKernel"/>.</summary>
    public void Launch(FunctionHandle function, LaunchConfig config, KernelArguments arguments, StreamHandle stream, string subject)
    {
        const string call = "cuLaunchKernel";
        var resolved = Function(function, call, subject);
        config.Validate(resolved.Name);
        if (config.DynamicSharedBytes > resolved.MaxDynamicSharedBytes)
        {
            throw CudaErrors.Create(CudaErrors.InvalidValue, call, subject,
                $"{config}: the function allows {resolved.MaxDynamicSharedBytes} B of dynamic shared memory (cuFuncSetAttribute raises it)");
        }

        PtxSignatures.Check(resolved.Name, resolved.Parameters, arguments);
        var values = arguments.Values.ToArray();
        var pointers = Enumerable.Range(0, arguments.Count).Where(i => arguments.KindAt(i) == KernelArgumentKind.Pointer && values[i] != 0).ToArray();
        Submit(stream, call, subject, () =>
        {
            foreach (int i in pointers)
            {
                if (memory.Find(values[i], 0) is not { DeviceVisible: true })
                {
                    throw CudaErrors.Create(CudaErrors.IllegalAddress, call, subject, $"parameter {i} (0x{values[i]:x}) is in no live device-visible allocation");
                }
            }
        }, () => RunKernel(resolved, config, values));
        Counters.CountLaunch();
    }

    public void BeginCapture(StreamHandle stream, string subject)
    {
        lock (streams)
        {
            if (RequireStream(stream, "cuStreamBeginCapture", subject) is not null)
            {
                throw CudaErrors.Create(CudaErrors.IllegalState, "cuStreamBeginCapture", subject, "the stream is already capturing");
            }

            streams[stream.Value] = [];
        }
    }

    public GraphHandle EndCapture(StreamHandle stream, string subject)
    {
        lock (streams)
        {
            var recorded = RequireStream(stream, "cuStreamEndCapture", subject)
                ?? throw CudaErrors.Create(CudaErrors.IllegalState, "cuStreamEndCapture", subject, "the stream is not capturing");
            streams[stream.Value] = null;
            var handle = new GraphHandle(NewHandle());
            lock (graphs)
            {
                graphs.Add(handle.Value, recorded);
            }

            return handle;
        }
    }

    public GraphExecHandle Instantiate(GraphHandle graph, string subject)
    {
        lock (graphs)
        {
            var recorded = graphs.GetValueOrDefault(graph.Value) ?? throw CudaErrors.Create(CudaErrors.InvalidHandle, "cuGraphInstantiateWithFlags", subject);
            var handle = new GraphExecHandle(NewHandle());
            executables.Add(handle.Value, [.. recorded]);
            return handle;
        }
    }

    public void LaunchGraph(GraphExecHandle graph, StreamHandle stream, string subject)
    {
        Action[] work;
        lock (graphs)
        {
            work = executables.GetValueOrDefault(graph.Value) ?? throw CudaErrors.Create(CudaErrors.InvalidHandle, "cuGraphLaunch", subject);
        }

        Submit(stream, "cuGraphLaunch", subject, () => { }, () =>
        {
            foreach (var step in work)
            {
                step();
            }
        });
        Counters.CountGraphLaunch();
    }

    public void DestroyGraphExec(GraphExecHandle graph, string subject)
    {
        if (disposed)
        {
            return;
        }

        lock (graphs)
        {
            if (!executables.Remove(graph.Value))
            {
                throw CudaErrors.Create(CudaErrors.InvalidHandle, "cuGraphExecDestroy", subject);
            }
        }
    }

    public void DestroyGraph(GraphHandle graph, string subject)
    {
        if (disposed)
        {
            return;
        }

        lock (graphs)
        {
            if (!graphs.Remove(graph.Value))
            {
                throw CudaErrors.Create(CudaErrors.InvalidHandle, "cuGraphDestroy", subject);
            }
        }
    }

    /// <summary>Runs <paramref name="check"/> now, so a bad call fails where it is made; then <paramref name="work"/>
    /// now, or, when <paramref name="stream"/> is capturing, records both for each replay (memory may be freed by then).</summary>
    private void Submit(StreamHandle stream, string call, string subject, Action check, Action work)
    {
        var recording = Capture(stream, call, subject);
        check();
        if (recording is not null)
        {
            recording.Add(() =>
            {
                check();
                work();
            });
            return;
        }

        if (!DeferStreamWork)
        {
            work();
            return;
        }

        var queue = Queue(stream, call, subject);
        queue.Pending.Enqueue((++queue.Submitted, () =>
        {
            check();
            work();
        }
        ));
    }

    private StreamQueue Queue(StreamHandle stream, string call, string subject)
    {
        lock (streams)
        {
            return queues.TryGetValue(stream.Value, out var queue) ? queue
                : throw CudaErrors.Create(CudaErrors.InvalidHandle, call, subject, $"stream 0x{stream.Value:x} is not live");
        }
    }

    /// <summary>A device-wide synchronisation (what cuMemFree implies): every stream's queued work runs.</summary>
    private void RunAllStreams()
    {
        List<StreamQueue> all;
        lock (streams)
        {
            all = [.. queues.Values];
        }

        foreach (var queue in all)
        {
            queue.RunTo(long.MaxValue);
        }
    }

    private List<Action>? Capture(StreamHandle stream, string call, string subject)
    {
        lock (streams)
        {
            return RequireStream(stream, call, subject);
        }
    }

    private List<Action>? RequireStream(StreamHandle stream, string call, string subject)
        => streams.TryGetValue(stream.Value, out var recording) ? recording
            : throw CudaErrors.Create(CudaErrors.InvalidHandle, call, subject, $"stream 0x{stream.Value:x} is not live");

    /// <summary>A graph may hold copies only from page-locked memory: a pageable copy cannot be captured.</summary>
    private void RequireCapturableHost(StreamHandle stream, ulong host, long bytes, string call, string subject)
    {
        if (Capture(stream, call, subject) is not null && memory.Find(host, bytes) is null or { Kind: HostAllocationKind.Device })
        {
            throw CudaErrors.Create(CudaErrors.CaptureUnsupported, call, subject, "a captured copy needs page-locked host memory");
        }
    }

    private void RefuseDuringCapture(string call, string subject)
    {
        lock (streams)
        {
            if (streams.Values.Any(recording => recording is not null))
            {
                throw CudaErrors.Create(CudaErrors.CaptureUnsupported, call, subject, "a stream is capturing a graph");
            }
        }
    }

    private HostEvent Event(EventHandle cudaEvent, string call, string subject)
    {
        lock (events)
        {
            return events.GetValueOrDefault(cudaEvent.Value) ?? throw CudaErrors.Create(CudaErrors.InvalidHandle, call, subject, "the event is not live");
        }
    }

    private HostFunction Function(FunctionHandle function, string call, string subject)
    {
        lock (modules)
        {
            return functions.GetValueOrDefault(function.Value) ?? throw CudaErrors.Create(CudaErrors.InvalidHandle, call, subject, "the function is not loaded");
        }
    }

    /// <summary>Frees all memory; release calls made afterwards (a tensor disposed after its backend) do nothing.</summary>
    public virtual void Dispose()
    {
        disposed = true;
        memory.Dispose();
    }
}
