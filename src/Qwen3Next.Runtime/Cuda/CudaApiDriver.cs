using ILGPU.Runtime.Cuda;
using Qwen3Next.Device;

namespace Qwen3Next.Cuda;

/// <summary>
/// <see cref="ICudaDriver"/> on a GPU. The context is the ILGPU <see cref="CudaAccelerator"/>'s (made current on the
/// calling thread before each call), so PTX and ILGPU kernels share one context. Calls go through ILGPU's public
/// <see cref="CudaAPI"/> where it binds them; the rest (<c>cuMemHostAlloc</c>, <c>cuMemsetD32Async</c>,
/// <c>cuStreamWaitEvent</c>, <c>cuFuncSetAttribute</c>, the graph calls) are imported in <see cref="CudaDriver"/>.
/// Streams are created through the accelerator (<c>cuStreamCreate</c>) and kept as ILGPU <see cref="CudaStream"/>s,
/// because <see cref="CudaAPI.MemcpyAsync"/> takes one.
/// </summary>
internal sealed unsafe class CudaApiDriver : ICudaDriver
{
    private readonly ComputeDevice device;
    private readonly bool ownsDevice;
    private readonly CudaAccelerator accelerator;
    private readonly Dictionary<ulong, CudaStream> streams = [];
    private bool disposed;

    /// <summary>Drives the CUDA accelerator of <paramref name="device"/>; <see cref="NotSupportedException"/> for any other.</summary>
    public CudaApiDriver(ComputeDevice device, bool ownsDevice)
    {
        accelerator = device.Accelerator as CudaAccelerator
            ?? throw new NotSupportedException($"The CUDA driver needs a CUDA device, not {device.Accelerator.AcceleratorType}.");
        this.device = device;
        this.ownsDevice = ownsDevice;
    }

    public string Description => device.Description;

    public CudaDriverCounters Counters { get; } = new();

    private static CudaAPI Api => CudaAPI.CurrentAPI;

    private static IntPtr Handle(ulong value) => (IntPtr)(long)value;

    private static ulong Value(IntPtr handle) => (ulong)(long)handle;

    /// <summary>Once the owned device is disposed its context and everything in it are gone: release calls made
    /// afterwards (a tensor disposed after its backend) have nothing left to release.</summary>
    private bool ContextGone => disposed && ownsDevice;

    private void MakeCurrent(string subject) => CudaDriver.MakeCurrent(accelerator, subject);

    public DevicePointer Allocate(long bytes, string subject)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes, 1);
        MakeCurrent(subject);
        CudaDriver.Check(Api.AllocateMemory(out IntPtr pointer, new IntPtr(bytes)), "cuMemAlloc", subject, $"{bytes} bytes");
        Counters.CountAllocation();
        return new DevicePointer(Value(pointer));
    }

    public void Free(DevicePointer pointer, string subject)
    {
        if (ContextGone)
        {
            return;
        }

        MakeCurrent(subject);
        CudaDriver.Check(Api.FreeMemory(Handle(pointer.Address)), "cuMemFree", subject);
        Counters.CountFree();
    }

    public void MemsetD8Async(DevicePointer destination, byte value, long bytes, StreamHandle stream, string subject)
    {
        MakeCurrent(subject);
        CudaDriver.Check(Api.Memset(Handle(destination.Address), value, new IntPtr(bytes), Stream(stream).StreamPtr), "cuMemsetD8Async", subject, $"{bytes} bytes");
        Counters.CountMemset();
    }

    public void MemsetD32Async(DevicePointer destination, uint value, long count, StreamHandle stream, string subject)
    {
        MakeCurrent(subject);
        CudaDriver.Check(CudaDriver.cuMemsetD32Async(destination.Address, value, (nuint)count, Stream(stream).StreamPtr), "cuMemsetD32Async", subject,
            $"{count} words");
        Counters.CountMemset();
    }

    public void CopyHostToDeviceAsync(DevicePointer destination, void* source, long bytes, StreamHandle stream, string subject)
        => Copy(Handle(destination.Address), (IntPtr)source, bytes, stream, CopyDirection.HostToDevice, subject);

    public void CopyDeviceToHostAsync(void* destination, DevicePointer source, long bytes, StreamHandle stream, string subject)
        => Copy((IntPtr)destination, Handle(source.Address), bytes, stream, CopyDirection.DeviceToHost, subject);

    public void CopyDeviceToDeviceAsync(DevicePointer destination, DevicePointer source, long bytes, StreamHandle stream, string subject)
        => Copy(Handle(destination.Address), Handle(source.Address), bytes, stream, CopyDirection.DeviceToDevice, subject);

    // cuMemcpyAsync infers the direction from unified addressing; the direction here is for the counters.
    private void Copy(IntPtr destination, IntPtr source, long bytes, StreamHandle stream, CopyDirection direction, string subject)
    {
        MakeCurrent(subject);
        CudaDriver.Check(Api.MemcpyAsync(destination, source, new IntPtr(bytes), Stream(stream)), "cuMemcpyAsync", subject, $"{bytes} bytes");
        Counters.CountCopy(direction, bytes);
    }

    public IntPtr AllocateHost(long bytes, bool mapped, string subject)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes, 1);
        MakeCurrent(subject);
        uint flags = CudaDriver.CuMemHostAllocPortable | (mapped ? CudaDriver.CuMemHostAllocDeviceMap : 0);
        CudaDriver.Check(CudaDriver.cuMemHostAlloc(out IntPtr host, (nuint)bytes, flags), "cuMemHostAlloc", subject, $"{bytes} bytes");
        Counters.CountHostAllocation();
        return host;
    }

    public void FreeHost(IntPtr host, string subject)
    {
        if (ContextGone)
        {
            return;
        }

        MakeCurrent(subject);
        CudaDriver.Check(Api.FreeHostMemory(host), "cuMemFreeHost", subject);
    }

    public DevicePointer MappedDevicePointer(IntPtr host, string subject)
    {
        MakeCurrent(subject);
        CudaDriver.Check(Api.MemHostGetDevicePointer(out IntPtr pointer, host, 0), "cuMemHostGetDevicePointer", subject);
        return new DevicePointer(Value(pointer));
    }

    public StreamHandle CreateStream(bool nonBlocking, string subject)
    {
        MakeCurrent(subject);
        var stream = accelerator.CreateStream(nonBlocking ? StreamFlags.CU_STREAM_NON_BLOCKING : StreamFlags.CU_STREAM_DEFAULT);
        var handle = new StreamHandle(Value(stream.StreamPtr));
        lock (streams)
        {
            streams[handle.Value] = stream;
        }

        return handle;
    }

    public void DestroyStream(StreamHandle stream, string subject)
    {
        if (ContextGone)
        {
            return;
        }

        CudaStream owned;
        lock (streams)
        {
            owned = Stream(stream);
            streams.Remove(stream.Value);
        }

        MakeCurrent(subject);
        owned.Dispose();
    }

    public void SynchronizeStream(StreamHandle stream, string subject)
    {
        MakeCurrent(subject);
        CudaDriver.Check(Api.SynchronizeStream(Stream(stream).StreamPtr), "cuStreamSynchronize", subject);
        Counters.CountHostSynchronization();
    }

    private CudaStream Stream(StreamHandle stream)
    {
        lock (streams)
        {
            return streams.TryGetValue(stream.Value, out var cuda) ? cuda
                : throw new ArgumentException($"Stream 0x{stream.Value:x} was not created by this driver (or was destroyed).", nameof(stream));
        }
    }

    public EventHandle CreateEvent(bool timing, string subject)
    {
        MakeCurrent(subject);
        return new EventHandle(Value(CudaDriver.CreateEvent(timing, subject)));
    }

    public void RecordEvent(EventHandle cudaEvent, StreamHandle stream, string subject)
    {
        MakeCurrent(subject);
        CudaDriver.RecordEvent(Handle(cudaEvent.Value), Stream(stream).StreamPtr, subject);
    }

    public void StreamWaitEvent(StreamHandle stream, EventHandle cudaEvent, string subject)
    {
        MakeCurrent(subject);
        CudaDriver.StreamWaitEvent(Stream(stream).StreamPtr, Handle(cudaEvent.Value), subject);
    }

    public void SynchronizeEvent(EventHandle cudaEvent, string subject)
    {
        MakeCurrent(subject);
        CudaDriver.SynchronizeEvent(Handle(cudaEvent.Value), subject);
        Counters.CountHostSynchronization();
    }

    public float ElapsedMilliseconds(EventHandle start, EventHandle end, string subject)
    {
        MakeCurrent(subject);
        return CudaDriver.ElapsedMilliseconds(Handle(start.Value), Handle(end.Value), subject);
    }

    public void DestroyEvent(EventHandle cudaEvent, string subject)
    {
        if (ContextGone)
        {
            return;
        }

        MakeCurrent(subject);
        CudaDriver.Check(Api.DestroyEvent(Handle(cudaEvent.Value)), "cuEventDestroy", subject);
    }

    public KernelModuleHandle LoadModule(string name, string ptx)
    {
        string subject = $"module {name}";
        MakeCurrent(subject);
        var error = Api.LoadModule(out IntPtr module, ptx, out string? log);
        CudaDriver.Check(error, "cuModuleLoadDataEx", subject, string.IsNullOrWhiteSpace(log) ? null : $"JIT log: {log.TrimEnd('\0')}");
        return new KernelModuleHandle(Value(module));
    }

    public FunctionHandle GetFunction(KernelModuleHandle module, string entry, string subject)
    {
        MakeCurrent(subject);
        CudaDriver.Check(Api.GetModuleFunction(out IntPtr function, Handle(module.Value), entry), "cuModuleGetFunction", subject);
        return new FunctionHandle(Value(function));
    }

    public void SetMaxDynamicSharedBytes(FunctionHandle function, int bytes, string subject)
    {
        MakeCurrent(subject);
        CudaDriver.Check(CudaDriver.cuFuncSetAttribute(Handle(function.Value), CudaDriver.CuFuncAttributeMaxDynamicSharedSizeBytes, bytes),
            "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", subject, $"requested {bytes} bytes");
    }

    public void UnloadModule(KernelModuleHandle module, string subject)
    {
        if (ContextGone)
        {
            return;
        }

        MakeCurrent(subject);
        CudaDriver.Check(Api.DestroyModule(Handle(module.Value)), "cuModuleUnload", subject);
    }

    public void Launch(FunctionHandle function, LaunchConfig config, KernelArguments arguments, StreamHandle stream, string subject)
    {
        MakeCurrent(subject);
        var (grid, block) = (config.Grid, config.Block);
        IntPtr* parameters = stackalloc IntPtr[Math.Max(1, arguments.Count)];
        CudaError error;
        fixed (ulong* values = arguments.Values)
        {
            KernelArguments.FillParameterArray(parameters, values, arguments.Count);
            error = Api.LaunchKernel(Handle(function.Value), grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, config.DynamicSharedBytes,
                Stream(stream).StreamPtr, (IntPtr)parameters, IntPtr.Zero);
        }

        if (error != CudaError.CUDA_SUCCESS)
        {
            CudaDriver.Check(error, "cuLaunchKernel", subject, config.ToString());
        }

        Counters.CountLaunch();
    }

    public void BeginCapture(StreamHandle stream, string subject)
    {
        MakeCurrent(subject);
        CudaDriver.Check(CudaDriver.cuStreamBeginCapture(Stream(stream).StreamPtr, CudaDriver.CuStreamCaptureModeGlobal), "cuStreamBeginCapture", subject);
    }

    public GraphHandle EndCapture(StreamHandle stream, string subject)
    {
        MakeCurrent(subject);
        CudaDriver.Check(CudaDriver.cuStreamEndCapture(Stream(stream).StreamPtr, out IntPtr graph), "cuStreamEndCapture", subject);
        return new GraphHandle(Value(graph));
    }

    public GraphExecHandle Instantiate(GraphHandle graph, string subject)
    {
        MakeCurrent(subject);
        CudaDriver.Check(CudaDriver.cuGraphInstantiateWithFlags(out IntPtr exec, Handle(graph.Value), 0), "cuGraphInstantiateWithFlags", subject);
        return new GraphExecHandle(Value(exec));
    }

    public void LaunchGraph(GraphExecHandle graph, StreamHandle stream, string subject)
    {
        MakeCurrent(subject);
        CudaDriver.Check(CudaDriver.cuGraphLaunch(Handle(graph.Value), Stream(stream).StreamPtr), "cuGraphLaunch", subject);
        Counters.CountGraphLaunch();
    }

    public void DestroyGraphExec(GraphExecHandle graph, string subject)
    {
        if (ContextGone)
        {
            return;
        }

        MakeCurrent(subject);
        CudaDriver.Check(CudaDriver.cuGraphExecDestroy(Handle(graph.Value)), "cuGraphExecDestroy", subject);
    }

    public void DestroyGraph(GraphHandle graph, string subject)
    {
        if (ContextGone)
        {
            return;
        }

        MakeCurrent(subject);
        CudaDriver.Check(CudaDriver.cuGraphDestroy(Handle(graph.Value)), "cuGraphDestroy", subject);
    }

    /// <summary>Destroys the streams still open, then the device when this driver owns it.</summary>
    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        lock (streams)
        {
            foreach (var stream in streams.Values)
            {
                stream.Dispose();
            }

            streams.Clear();
        }

        if (ownsDevice)
        {
            device.Dispose();
        }
    }
}
