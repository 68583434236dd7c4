using System.Runtime.InteropServices;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Qwen3Next.Cuda;

/// <summary>
/// Every CUDA driver call of the runtime, in one place. Almost all go through ILGPU's public binding
/// (<see cref="CudaAPI.CurrentAPI"/>), so PTX modules live in the very context and run on the very streams of the
/// ILGPU <see cref="CudaAccelerator"/>. ILGPU does not bind <c>cuFuncSetAttribute</c>, which kernels with more than
/// 48 KiB of dynamic shared memory need, so that one function is imported from libcuda here (see the other part).
/// Each call checks its <c>CUresult</c> and throws <see cref="CudaDriverException"/> naming the subject.
/// </summary>
internal static partial class CudaDriver
{
    /// <summary>Dynamic shared memory a launch may use without opting in through the function attribute.</summary>
    public const int DefaultDynamicSharedBytes = 48 * 1024;

    private static CudaAPI Api => CudaAPI.CurrentAPI;

    public static void Check(CudaError error, string call, string subject, string? detail = null)
    {
        if (error != CudaError.CUDA_SUCCESS)
        {
            throw Failure((int)error, error.ToString(), call, subject, detail);
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

    public static IntPtr LoadModule(string ptx, string subject)
    {
        var error = Api.LoadModule(out IntPtr module, ptx, out string? log);
        Check(error, "cuModuleLoadDataEx", subject, string.IsNullOrWhiteSpace(log) ? null : $"JIT log: {log}");
        return module;
    }

    public static void UnloadModule(IntPtr module) => Api.DestroyModule(module);

    public static IntPtr GetFunction(IntPtr module, string name, string subject)
    {
        Check(Api.GetModuleFunction(out IntPtr function, module, name), "cuModuleGetFunction", subject);
        return function;
    }

    public static void SetMaxDynamicSharedBytes(IntPtr function, int bytes, string subject)
    {
        int code = cuFuncSetAttribute(function, CuFuncAttributeMaxDynamicSharedSizeBytes, bytes);
        if (code != 0)
        {
            throw Failure(code, ((CudaError)code).ToString(), "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", subject, $"requested {bytes} bytes");
        }
    }

    /// <summary>Makes later work on <paramref name="stream"/> wait for <paramref name="cudaEvent"/> on the device (no host wait).</summary>
    public static void StreamWaitEvent(IntPtr stream, IntPtr cudaEvent, string subject)
    {
        int code = cuStreamWaitEvent(stream, cudaEvent, 0);
        if (code != 0)
        {
            throw Failure(code, ((CudaError)code).ToString(), "cuStreamWaitEvent", subject, null);
        }
    }

    public static unsafe void Launch(IntPtr function, LaunchDims grid, LaunchDims block, int dynamicSharedBytes, IntPtr stream,
        IntPtr* argumentPointers, string subject)
        => Check(Api.LaunchKernel(function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, dynamicSharedBytes, stream,
            (IntPtr)argumentPointers, IntPtr.Zero), "cuLaunchKernel", subject);

    public static IntPtr StreamOf(AcceleratorStream stream) => stream is CudaStream cuda
        ? cuda.StreamPtr
        : throw new ArgumentException($"A PTX kernel needs a CUDA stream, not a {stream.GetType().Name}.", nameof(stream));

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
