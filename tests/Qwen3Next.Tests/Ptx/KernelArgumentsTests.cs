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
    public void SpansBecomeTheAddressOfTheirFirstElement()
    {
        var span = new DeviceSpan<float>(new DevicePointer(0x7f00_0000_1000), 64);
        var args = new KernelArguments().Add(span).Add(span.Slice(10, 20)).Add(span, 17).Add(span, 64).Add(new DeviceSpan<ushort>(new DevicePointer(0x2000), 3), 1);

        Assert.That(Enumerable.Range(0, args.Count).Select(args.KindAt), Has.All.EqualTo(KernelArgumentKind.Pointer));
        Assert.That(BitConverter.ToUInt64(args.BytesAt(0)), Is.EqualTo(0x7f00_0000_1000UL));
        Assert.That(BitConverter.ToUInt64(args.BytesAt(1)), Is.EqualTo(0x7f00_0000_1000UL + (10 * sizeof(float))));
        Assert.That(BitConverter.ToUInt64(args.BytesAt(2)), Is.EqualTo(0x7f00_0000_1000UL + (17 * sizeof(float))));
        Assert.That(BitConverter.ToUInt64(args.BytesAt(3)), Is.EqualTo(0x7f00_0000_1000UL + (64 * sizeof(float))), "the end of a span is a valid (empty) offset");
        Assert.That(BitConverter.ToUInt64(args.BytesAt(4)), Is.EqualTo(0x2002UL), "bf16 elements are 2 bytes");
        Assert.That(args.ReadThroughParameterArray()[2], Is.EqualTo(args.BytesAt(2)));
    }

    [Test]
    public void OffsetsOutsideTheSpanAndNullSpansAreRefused()
    {
        var span = new DeviceSpan<float>(new DevicePointer(0x1000), 64);
        var args = new KernelArguments();

        Assert.That(() => args.Add(span, 65), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("offset 65 is outside a span of 64"));
        Assert.That(() => args.Add(span, -1), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => args.Add(default(DeviceSpan<float>)), Throws.ArgumentException.With.Message.Contains("use AddNull"));
        Assert.That(args.Count, Is.Zero, "nothing is packed half-way");
    }
}
