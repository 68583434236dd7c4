using System.Runtime.InteropServices;

namespace Qwen3Next.Cuda;

/// <summary>
/// The driver functions ILGPU's <c>CudaAPI</c> does not bind (or binds only internally), imported from libcuda
/// directly: the only native declarations of the runtime. Each returns the <c>CUresult</c>; callers check it with
/// <see cref="Check(int, string, string, string?)"/>. Handles are <c>IntPtr</c>, device pointers <c>ulong</c>
/// (<c>CUdeviceptr</c> is 64-bit) and sizes <c>nuint</c> (<c>size_t</c>), as in <c>cuda.h</c>.
/// </summary>
internal static partial class CudaDriver
{
    /// <summary><c>CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES</c> in <c>cuda.h</c>.</summary>
    internal const int CuFuncAttributeMaxDynamicSharedSizeBytes = 8;

    /// <summary><c>CU_MEMHOSTALLOC_PORTABLE</c>: page-locked for every context, not only the current one.</summary>
    internal const uint CuMemHostAllocPortable = 0x01;

    /// <summary><c>CU_MEMHOSTALLOC_DEVICEMAP</c>: mapped into the device address space.</summary>
    internal const uint CuMemHostAllocDeviceMap = 0x02;

    /// <summary><c>CU_STREAM_CAPTURE_MODE_GLOBAL</c>: unsafe calls (allocation, synchronisation) fail during a capture.</summary>
    internal const int CuStreamCaptureModeGlobal = 0;

    /// <summary>libcuda.so.1 on Linux (the driver's runtime name), nvcuda.dll on Windows.</summary>
    private const string DriverLibrary = "libcuda.so.1";

    static CudaDriver() => NativeLibrary.SetDllImportResolver(typeof(CudaDriver).Assembly, (name, assembly, path) =>
        name == DriverLibrary && OperatingSystem.IsWindows() ? NativeLibrary.Load("nvcuda.dll") : IntPtr.Zero);

    [LibraryImport(DriverLibrary)]
    internal static partial int cuFuncSetAttribute(IntPtr function, int attribute, int value);

    [LibraryImport(DriverLibrary)]
    internal static partial int cuStreamWaitEvent(IntPtr stream, IntPtr cudaEvent, uint flags);

    [LibraryImport(DriverLibrary, EntryPoint = "cuMemHostAlloc")]
    internal static partial int cuMemHostAlloc(out IntPtr host, nuint bytes, uint flags);

    [LibraryImport(DriverLibrary, EntryPoint = "cuMemsetD32Async")]
    internal static partial int cuMemsetD32Async(ulong destination, uint value, nuint count, IntPtr stream);

    // cuda.h maps cuStreamBeginCapture to the _v2 entry point (the one that takes a capture mode) since CUDA 10.1.
    [LibraryImport(DriverLibrary, EntryPoint = "cuStreamBeginCapture_v2")]
    internal static partial int cuStreamBeginCapture(IntPtr stream, int mode);

    [LibraryImport(DriverLibrary)]
    internal static partial int cuStreamEndCapture(IntPtr stream, out IntPtr graph);

    // CUDA 11.4+; in CUDA 12 cuGraphInstantiate itself is a macro for this entry point.
    [LibraryImport(DriverLibrary)]
    internal static partial int cuGraphInstantiateWithFlags(out IntPtr graphExec, IntPtr graph, ulong flags);

    [LibraryImport(DriverLibrary)]
    internal static partial int cuGraphLaunch(IntPtr graphExec, IntPtr stream);

    [LibraryImport(DriverLibrary)]
    internal static partial int cuGraphExecDestroy(IntPtr graphExec);

    [LibraryImport(DriverLibrary)]
    internal static partial int cuGraphDestroy(IntPtr graph);
}
