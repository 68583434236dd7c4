namespace Qwen3Next.Cuda;

/// <summary>One <c>CUresult</c>: number, name in <c>cuda.h</c>, and what <c>cuGetErrorString</c> says.</summary>
internal readonly record struct CudaResult(int Code, string Name, string Description);

/// <summary>
/// The driver errors a host-memory driver reports, numbered and described as the real driver does, so a misuse
/// caught without a GPU reads exactly like the one a GPU would report.
/// </summary>
internal static class CudaErrors
{
    public static readonly CudaResult InvalidValue = new(1, "CUDA_ERROR_INVALID_VALUE", "invalid argument");
    public static readonly CudaResult OutOfMemory = new(2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory");
    public static readonly CudaResult InvalidHandle = new(400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle");
    public static readonly CudaResult IllegalState = new(401, "CUDA_ERROR_ILLEGAL_STATE", "the operation cannot be performed in the present state");
    public static readonly CudaResult NotFound = new(500, "CUDA_ERROR_NOT_FOUND", "named symbol not found");
    public static readonly CudaResult IllegalAddress = new(700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered");
    public static readonly CudaResult CaptureUnsupported = new(900, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "operation not permitted when stream is capturing");

    public static CudaDriverException Create(CudaResult error, string call, string subject, string? detail = null)
        => new(call, subject, error.Code, error.Name, error.Description, detail);
}
