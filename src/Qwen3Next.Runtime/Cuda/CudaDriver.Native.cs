using System.Runtime.InteropServices;

namespace Qwen3Next.Cuda;

/// <summary>The driver functions ILGPU's <c>CudaAPI</c> does not bind, imported from libcuda directly.</summary>
internal static partial class CudaDriver
{
    /// <summary><c>CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES</c> in <c>cuda.h</c>.</summary>
    private const int CuFuncAttributeMaxDynamicSharedSizeBytes = 8;

    /// <summary>libcuda.so.1 on Linux (the driver's runtime name), nvcuda.dll on Windows.</summary>
    private const string DriverLibrary = "libcuda.so.1";

    static CudaDriver() => NativeLibrary.SetDllImportResolver(typeof(CudaDriver).Assembly, (name, assembly, path) =>
        name == DriverLibrary && OperatingSystem.IsWindows() ? NativeLibrary.Load("nvcuda.dll") : IntPtr.Zero);

    [LibraryImport(DriverLibrary)]
    private static partial int cuFuncSetAttribute(IntPtr function, int attribute, int value);

    [LibraryImport(DriverLibrary)]
    private static partial int cuStreamWaitEvent(IntPtr stream, IntPtr cudaEvent, uint flags);
}
