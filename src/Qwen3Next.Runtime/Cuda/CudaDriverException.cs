namespace Qwen3Next.Cuda;

/// <summary>
/// A CUDA driver call failed. The message names the call, what it was acting on (kernel, module, buffer) and the
/// driver's own error name and string, e.g.
/// <c>cuLaunchKernel failed for kernel 'rmsnorm_plain' (module basic/rmsnorm.ptx): CUDA_ERROR_INVALID_VALUE (1): invalid argument</c>.
/// </summary>
public sealed class CudaDriverException : Exception
{
    public CudaDriverException(string call, string subject, int errorCode, string errorName, string driverMessage, string? detail = null)
        : base(Format(call, subject, errorCode, errorName, driverMessage, detail))
    {
        Call = call;
        Subject = subject;
        ErrorCode = errorCode;
        ErrorName = errorName;
        DriverMessage = driverMessage;
    }

    /// <summary>The driver entry point, e.g. <c>cuModuleLoadDataEx</c>.</summary>
    public string Call { get; }

    /// <summary>What the call acted on, e.g. <c>kernel 'gdn_recurrent' (module gated_delta/recurrent_decode.ptx)</c>.</summary>
    public string Subject { get; }

    /// <summary>The numeric <c>CUresult</c>.</summary>
    public int ErrorCode { get; }

    /// <summary>The <c>CUresult</c> name, e.g. <c>CUDA_ERROR_INVALID_PTX</c>.</summary>
    public string ErrorName { get; }

    /// <summary>The driver's description of the error (<c>cuGetErrorString</c>).</summary>
    public string DriverMessage { get; }

    internal static string Format(string call, string subject, int errorCode, string errorName, string driverMessage, string? detail)
    {
        var message = $"{call} failed for {subject}: {errorName} ({errorCode}): {driverMessage}";
        return string.IsNullOrWhiteSpace(detail) ? message : $"{message}; {detail.Trim()}";
    }
}
