using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using Qwen3Next.Device;

namespace Qwen3Next.Tests.Ptx;

public sealed class PtxBackendTests
{
    private static bool HasCudaDevice()
    {
        try
        {
            using var device = ComputeDevice.Create(DeviceKind.Cuda);
            return true;
        }
        catch (NotSupportedException)
        {
            return false;
        }
    }

    [Test]
    public void WithoutACudaDeviceCreateFailsWithOneClearMessage()
    {
        if (HasCudaDevice())
        {
            Assert.Ignore("A CUDA device is present; the no-device path cannot be exercised here.");
        }

        var e = Assert.Throws<NotSupportedException>(() => PtxBackend.Create());
        Assert.That(e!.Message, Is.EqualTo("no CUDA device: the ptx backend needs an NVIDIA GPU; use --backend ilgpu or reference"));
        Assert.That(() => BackendRegistry.Create("ptx"), Throws.TypeOf<NotSupportedException>().With.Message.EqualTo(PtxBackend.NoDeviceMessage));
    }

    [Test]
    public void ACpuDeviceIsRejectedBeforeAnythingIsLoaded()
    {
        using var cpu = ComputeDevice.Create(DeviceKind.Cpu);

        var e = Assert.Throws<NotSupportedException>(() => new PtxBackend(cpu));
        Assert.That(e!.Message, Does.StartWith(PtxBackend.NoDeviceMessage).And.Contain("CPU"));
        Assert.That(() => new CudaApiDriver(cpu, ownsDevice: false), Throws.TypeOf<NotSupportedException>().With.Message.Contains("not CPU"));
    }

    [Test]
    public void PtxIsARegisteredBackend() => Assert.That(BackendRegistry.Names, Does.Contain("ptx"));

    /// <summary>On a GPU: every embedded module JIT-compiles for the device and every launcher kernel resolves.</summary>
    [Test]
    [Category("Gpu")]
    public void EveryLauncherKernelLoadsOnTheDevice()
    {
        if (!HasCudaDevice())
        {
            Assert.Ignore("No CUDA device.");
        }

        if (PtxCatalog.Embedded.IsEmpty)
        {
            Assert.Ignore(PtxCatalog.UnavailableMessage);
        }

        using var backend = PtxBackend.Create();
        foreach (var kernel in PtxCatalog.Embedded.Kernels)
        {
            Assert.That(backend.Kernels[kernel].Name, Is.EqualTo(kernel));
        }
    }
}
