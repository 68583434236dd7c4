using System.Runtime.InteropServices;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Qwen3Next.Cuda;

/// <summary>
/// The CUDA driver calls of the ILGPU backend's streaming (pinned host buffers and events on ILGPU's streams), and
/// the error checking every driver call shares. Calls go through ILGPU's public binding
/// (<see cref="CudaAPI.CurrentAPI"/>), so they act in the very context and on the very streams of the ILGPU
/// <see cref="CudaAccelerator"/>; what <c>CudaAPI</c> lacks is imported in the other part of this class, the only
/// native declarations of the runtime. The ptx backend reaches the driver through <see cref="ICudaDriver"/> instead
/// (<see cref="CudaApiDriver"/> on a GPU). Each call checks its <c>CUresult</c> and throws
/// <see cref="CudaDriverException"/> naming the subject.
/// </summary>
internal static partial class CudaDriver
{
    private static CudaAPI Api => CudaAPI.CurrentAPI;

    public static void Check(CudaError error, string call, string subject, string? detail = null)
    {
        if (error != CudaError.CUDA_SUCCESS)
        {
            throw Failure((int)error, error.ToString(), call, subject, detail);
        }
    }

    /// <summary>Checks the <c>CUresult</c> of an imported call.</summary>
    public static void Check(int code, string call, string subject, string? detail = null)
    {
        if (code != 0)
        {
            throw Failure(code, ((CudaError)code).ToString(), call, subject, detail);
        }
    }

    private static CudaDriverException Failure(int code, string name, string call, string subject, string? detail)
    {
        string text;
        try
        {
            text = Api.GetErrorString((CudaError)code) ?? "no description";
        }
        catch (Exception)
        {
            text = "no description (the driver is not loaded)";
        }

        return new CudaDriverException(call, subject, code, name, text, detail);
    }

    /// <summary>Makes the accelerator's context current on this thread (cheap; ILGPU binds per thread too).</summary>
    public static void MakeCurrent(CudaAccelerator accelerator, string subject)
        => Check(Api.SetCurrentContext(accelerator.NativePtr), "cuCtxSetCurrent", subject);

    /// <summary>Makes later work on <paramref name="stream"/> wait for <paramref name="cudaEvent"/> on the device (no host wait).</summary>
    public static void StreamWaitEvent(IntPtr stream, IntPtr cudaEvent, string subject)
        => Check(cuStreamWaitEvent(stream, cudaEvent, 0), "cuStreamWaitEvent", subject);

    public static IntPtr StreamOf(AcceleratorStream stream) => stream is CudaStream cuda
        ? cuda.StreamPtr
        : throw new ArgumentException($"A CUDA event needs a CUDA stream, not a {stream.GetType().Name}.", nameof(stream));

    public static IntPtr CreateEvent(bool timing, string subject)
    {
        var flags = timing ? CudaEventFlags.CU_EVENT_DEFAULT : CudaEventFlags.CU_EVENT_DISABLE_TIMING;
        Check(Api.CreateEvent(out IntPtr handle, flags), "cuEventCreate", subject);
        return handle;
    }

    public static void DestroyEvent(IntPtr handle) => Api.DestroyEvent(handle);

    public static void RecordEvent(IntPtr handle, IntPtr stream, string subject) => Check(Api.RecordEvent(handle, stream), "cuEventRecord", subject);

    public static void SynchronizeEvent(IntPtr handle, string subject) => Check(Api.SynchronizeEvent(handle), "cuEventSynchronize", subject);

    public static float ElapsedMilliseconds(IntPtr start, IntPtr end, string subject)
    {
        Check(Api.ElapsedTime(out float ms, start, end), "cuEventElapsedTime", subject);
        return ms;
    }

    public static IntPtr AllocatePinned(long bytes, string subject)
    {
        Check(Api.AllocateHostMemory(out IntPtr host, new IntPtr(bytes)), "cuMemAllocHost", subject, $"{bytes} bytes");
        return host;
    }

    public static void FreePinned(IntPtr host) => Api.FreeHostMemory(host);

    public static void CopyAsync(IntPtr destination, IntPtr source, long bytes, AcceleratorStream stream, string subject)
        => Check(Api.MemcpyAsync(destination, source, new IntPtr(bytes), stream), "cuMemcpyAsync", subject, $"{bytes} bytes");
}
