using ILGPU.Runtime;
using NUnit.Framework;
using Qwen3Next.Cuda;
using Qwen3Next.Device;

namespace Qwen3Next.Tests.Ptx;

public sealed class PinnedHostBufferTests
{
    [Test]
    public void OnTheCpuAcceleratorItIsAlignedHostMemoryThatCopiesToTheDevice()
    {
        using var device = ComputeDevice.Create(DeviceKind.Cpu);
        using var host = PinnedHostBuffer<float>.Allocate(device, 65);
        using var target = device.Accelerator.Allocate1D<float>(65);
        for (int i = 0; i < 65; i++)
        {
            host.Span[i] = i * 0.5f;
        }

        host.CopyToAsync(target.View, device.Compute);
        var back = target.GetAsArray1D();

        Assert.That(host.IsPageLocked, Is.False);
        Assert.That(host.ByteLength, Is.EqualTo(65 * sizeof(float)));
        Assert.That(back, Is.EqualTo(Enumerable.Range(0, 65).Select(i => i * 0.5f).ToArray()));
        Assert.That(() => host.Slice(60, 6), Throws.TypeOf<ArgumentOutOfRangeException>());
    }
}
