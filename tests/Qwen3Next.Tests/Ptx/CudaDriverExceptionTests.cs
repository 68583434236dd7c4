using NUnit.Framework;
using Qwen3Next.Cuda;

namespace Qwen3Next.Tests.Ptx;

public sealed class CudaDriverExceptionTests
{
    [Test]
    public void MessageNamesCallSubjectAndDriverError()
    {
        var e = new CudaDriverException("cuLaunchKernel", "kernel 'rmsnorm_plain' (module basic/rmsnorm.ptx)", 1, "CUDA_ERROR_INVALID_VALUE", "invalid argument");

        Assert.That(e.Message, Is.EqualTo("cuLaunchKernel failed for kernel 'rmsnorm_plain' (module basic/rmsnorm.ptx): CUDA_ERROR_INVALID_VALUE (1): invalid argument"));
        Assert.That((e.Call, e.ErrorCode, e.ErrorName, e.DriverMessage), Is.EqualTo(("cuLaunchKernel", 1, "CUDA_ERROR_INVALID_VALUE", "invalid argument")));
    }

    [Test]
    public void DetailSuchAsTheJitLogIsAppended()
    {
        var e = new CudaDriverException("cuModuleLoadDataEx", "module moe/permute.ptx", 218, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed",
            "JIT log: ptxas fatal   : Unresolved extern function 'f'\n");

        Assert.That(e.Message, Does.StartWith("cuModuleLoadDataEx failed for module moe/permute.ptx: CUDA_ERROR_INVALID_PTX (218): a PTX JIT compilation failed; "));
        Assert.That(e.Message, Does.EndWith("JIT log: ptxas fatal   : Unresolved extern function 'f'"));
    }

    [Test]
    public void DriverFailuresAreTyped()
    {
        var e = Assert.Throws<CudaDriverException>(() => CudaDriverTestAccess.CheckNotFound());
        Assert.That(e!.Message, Does.StartWith("cuModuleGetFunction failed for kernel 'missing' (module basic/x.ptx): CUDA_ERROR_NOT_FOUND (500): "));
    }
}

internal static class CudaDriverTestAccess
{
    public static void CheckNotFound() => CudaDriver.Check(ILGPU.Runtime.Cuda.CudaError.CUDA_ERROR_NOT_FOUND, "cuModuleGetFunction", "kernel 'missing' (module basic/x.ptx)");
}
