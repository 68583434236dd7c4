namespace Qwen3Next.Cuda;

/// <summary>
/// Every CUDA driver call the ptx backend makes, and nothing else: the backend owns its memory as device pointers and
/// reaches the device only through this, so the same launchers, argument packing, launch configurations, streams,
/// events, copies and graphs run on a GPU (<see cref="CudaApiDriver"/>), on host memory with launches only checked
/// (<see cref="SignatureCheckDriver"/>), or on an emulated device. Stream work is asynchronous: a call returns once
/// the work is queued, and the host learns it has finished only from <see cref="SynchronizeStream"/> or
/// <see cref="SynchronizeEvent"/>. Failures throw <see cref="CudaDriverException"/> naming the call and
/// <c>subject</c> (what the call acted on, for the message); bad arguments that never reach the driver throw
/// <see cref="ArgumentException"/>. Every call is counted in <see cref="Counters"/>. Once a driver that owns its
/// context is disposed, the release calls (<see cref="Free"/>, <see cref="FreeHost"/>, the <c>Destroy*</c> calls,
/// <see cref="UnloadModule"/>) do nothing: the context took everything with it.
/// </summary>
internal interface ICudaDriver : IDisposable
{
    /// <summary>The device in words, e.g. <c>NVIDIA H200 (Cuda, warp 32, 143771 MiB)</c>.</summary>
    string Description { get; }

    CudaDriverCounters Counters { get; }

    /// <summary><c>cuMemAlloc</c>: <paramref name="bytes"/> (≥ 1) of device memory, 256-byte aligned, not initialised.</summary>
    DevicePointer Allocate(long bytes, string subject);

    /// <summary><c>cuMemFree</c> of a pointer <see cref="Allocate"/> returned.</summary>
    void Free(DevicePointer pointer, string subject);

    /// <summary><c>cuMemsetD8Async</c>: <paramref name="bytes"/> bytes set to <paramref name="value"/>.</summary>
    void MemsetD8Async(DevicePointer destination, byte value, long bytes, StreamHandle stream, string subject);

    /// <summary><c>cuMemsetD32Async</c>: <paramref name="count"/> 32-bit words set to <paramref name="value"/> (4-byte aligned).</summary>
    void MemsetD32Async(DevicePointer destination, uint value, long count, StreamHandle stream, string subject);

    /// <summary>Host to device. From pageable memory the call returns once the source has been read; from
    /// page-locked memory the source must stay untouched until the stream has passed the copy.</summary>
    unsafe void CopyHostToDeviceAsync(DevicePointer destination, void* source, long bytes, StreamHandle stream, string subject);

    /// <summary>Device to host; the destination is valid once the stream has passed the copy.</summary>
    unsafe void CopyDeviceToHostAsync(void* destination, DevicePointer source, long bytes, StreamHandle stream, string subject);

    void CopyDeviceToDeviceAsync(DevicePointer destination, DevicePointer source, long bytes, StreamHandle stream, string subject);

    /// <summary><c>cuMemHostAlloc</c> with <c>PORTABLE</c>, and <c>DEVICEMAP</c> when <paramref name="mapped"/>:
    /// page-locked host memory that copies overlap with, and that kernels can read through
    /// <see cref="MappedDevicePointer"/> when mapped.</summary>
    IntPtr AllocateHost(long bytes, bool mapped, string subject);

    /// <summary><c>cuMemFreeHost</c>.</summary>
    void FreeHost(IntPtr host, string subject);

    /// <summary><c>cuMemHostGetDevicePointer</c>: where kernels see mapped host memory.</summary>
    DevicePointer MappedDevicePointer(IntPtr host, string subject);

    /// <summary><c>cuStreamCreate</c>; a non-blocking stream does not wait for the legacy default stream.</summary>
    StreamHandle CreateStream(bool nonBlocking, string subject);

    void DestroyStream(StreamHandle stream, string subject);

    /// <summary><c>cuStreamSynchronize</c>: blocks the host until the stream is idle.</summary>
    void SynchronizeStream(StreamHandle stream, string subject);

    /// <summary><c>cuEventCreate</c>; without timing the event is cheaper and cannot be used with <see cref="ElapsedMilliseconds"/>.</summary>
    EventHandle CreateEvent(bool timing, string subject);

    void RecordEvent(EventHandle cudaEvent, StreamHandle stream, string subject);

    /// <summary><c>cuStreamWaitEvent</c>: work queued later on <paramref name="stream"/> waits on the device (not the host).</summary>
    void StreamWaitEvent(StreamHandle stream, EventHandle cudaEvent, string subject);

    /// <summary><c>cuEventSynchronize</c>: blocks the host until the event has passed.</summary>
    void SynchronizeEvent(EventHandle cudaEvent, string subject);

    /// <summary><c>cuEventElapsedTime</c> between two completed timing events.</summary>
    float ElapsedMilliseconds(EventHandle start, EventHandle end, string subject);

    void DestroyEvent(EventHandle cudaEvent, string subject);

    /// <summary><c>cuModuleLoadDataEx</c> of PTX text; <paramref name="name"/> (e.g. <c>basic/rmsnorm.ptx</c>) names it in messages.</summary>
    KernelModuleHandle LoadModule(string name, string ptx);

    /// <summary><c>cuModuleGetFunction</c>: the <c>.entry</c> named <paramref name="entry"/>.</summary>
    FunctionHandle GetFunction(KernelModuleHandle module, string entry, string subject);

    /// <summary><c>cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)</c>: lets launches use more than 48 KiB.</summary>
    void SetMaxDynamicSharedBytes(FunctionHandle function, int bytes, string subject);

    void UnloadModule(KernelModuleHandle module, string subject);

    /// <summary><c>cuLaunchKernel</c>; the driver copies the argument values before it returns.</summary>
    void Launch(FunctionHandle function, LaunchConfig config, KernelArguments arguments, StreamHandle stream, string subject);

    /// <summary><c>cuStreamBeginCapture</c>: work queued on <paramref name="stream"/> is recorded, not run, until
    /// <see cref="EndCapture"/>. Allocating, freeing or synchronising while a capture is open is an error.</summary>
    void BeginCapture(StreamHandle stream, string subject);

    /// <summary><c>cuStreamEndCapture</c>: the recorded work as a graph.</summary>
    GraphHandle EndCapture(StreamHandle stream, string subject);

    /// <summary><c>cuGraphInstantiateWithFlags</c>.</summary>
    GraphExecHandle Instantiate(GraphHandle graph, string subject);

    /// <summary><c>cuGraphLaunch</c>: the whole graph, in order, on <paramref name="stream"/>.</summary>
    void LaunchGraph(GraphExecHandle graph, StreamHandle stream, string subject);

    void DestroyGraphExec(GraphExecHandle graph, string subject);

    void DestroyGraph(GraphHandle graph, string subject);
}
