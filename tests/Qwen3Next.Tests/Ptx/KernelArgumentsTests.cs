using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using NUnit.Framework;
using Qwen3Next.Cuda;

namespace Qwen3Next.Tests.Ptx;

/// <summary>The <c>void** kernelParams</c> packing: order, kinds, sizes and little-endian bytes, read back through
/// the pointer array exactly as the driver reads it.</summary>
public sealed class KernelArgumentsTests
{
    [Test]
    public void PacksEveryKindInOrder()
    {
        var args = new KernelArguments().AddAddress(new IntPtr(0x7f00_1234_5670)).Add(-3).Add(1.5f).Add(1L << 40).AddNull().Add(int.MaxValue);

        Assert.That(args.Count, Is.EqualTo(6));
        Assert.That(Enumerable.Range(0, 6).Select(args.KindAt), Is.EqualTo(new[]
        {
            KernelArgumentKind.Pointer, KernelArgumentKind.Int32, KernelArgumentKind.Float32, KernelArgumentKind.Int64,
            KernelArgumentKind.Pointer, KernelArgumentKind.Int32,
        }));
        Assert.That(args.BytesAt(0), Is.EqualTo(BitConverter.GetBytes(0x7f00_1234_5670L)));
        Assert.That(args.BytesAt(1), Is.EqualTo(BitConverter.GetBytes(-3)));
        Assert.That(args.BytesAt(2), Is.EqualTo(BitConverter.GetBytes(1.5f)));
        Assert.That(args.BytesAt(3), Is.EqualTo(BitConverter.GetBytes(1L << 40)));
        Assert.That(args.BytesAt(4), Is.EqualTo(new byte[8]));
        Assert.That(args.BytesAt(5), Is.EqualTo(BitConverter.GetBytes(int.MaxValue)));
    }

    [Test]
    public void ParameterArrayPointsAtEachValue()
    {
        var args = new KernelArguments().AddAddress(new IntPtr(0x1000)).Add(7).Add(-0.25f).Add(-2L);

        var read = args.ReadThroughParameterArray();

        Assert.That(read, Has.Length.EqualTo(4));
        for (int i = 0; i < read.Length; i++)
        {
            Assert.That(read[i], Is.EqualTo(args.BytesAt(i)), $"parameter {i}");
        }
    }

    [Test]
    public void ClearAllowsReuseAndGrowsPastTheInitialCapacity()
    {
        var args = new KernelArguments();
        for (int i = 0; i < 40; i++)
        {
            args.Add(i);
        }

        Assert.That(args.Count, Is.EqualTo(40));
        Assert.That(args.BytesAt(39), Is.EqualTo(BitConverter.GetBytes(39)));
        args.Clear().Add(5L);
        Assert.That(args.Count, Is.EqualTo(1));
        Assert.That(args.KindAt(0), Is.EqualTo(KernelArgumentKind.Int64));
        Assert.Throws<ArgumentOutOfRangeException>(() => args.BytesAt(1));
    }

    [Test]
    public void ViewsBecomeTheAddressOfTheirFirstElement()
    {
        using var context = Context.Create(b => b.CPU());
        using var accelerator = context.GetCPUDevice(0).CreateCPUAccelerator(context);
        using var buffer = accelerator.Allocate1D<float>(64);
        ArrayView<float> view = buffer.View;
        var args = new KernelArguments().Add(view).Add(view.SubView(10, 20)).Add(view, 17);

        long base0 = BitConverter.ToInt64(args.BytesAt(0));
        Assert.That(base0, Is.Not.Zero);
        Assert.That(BitConverter.ToInt64(args.BytesAt(1)), Is.EqualTo(base0 + (10 * sizeof(float))));
        Assert.That(BitConverter.ToInt64(args.BytesAt(2)), Is.EqualTo(base0 + (17 * sizeof(float))));
        Assert.That(() => args.Add(view, 65), Throws.TypeOf<ArgumentOutOfRangeException>());
    }
}
