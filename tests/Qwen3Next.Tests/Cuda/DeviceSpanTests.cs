using NUnit.Framework;
using Qwen3Next.Cuda;

namespace Qwen3Next.Tests.Cuda;

/// <summary>Device spans: element offsets become byte offsets of the element type, and a range outside the span is
/// refused on the host, naming it.</summary>
public sealed class DeviceSpanTests
{
    private static readonly DeviceSpan<float> Span = new(new DevicePointer(0x1000), 64);

    [Test]
    public void SlicesOffsetTheAddressByWholeElements()
    {
        Assert.That(Span.Slice(10, 20).Address, Is.EqualTo(new DevicePointer(0x1000 + 40)));
        Assert.That(Span.Slice(10, 20).Length, Is.EqualTo(20));
        Assert.That(Span.Slice(64).Length, Is.Zero);
        Assert.That(Span.Slice(3).Slice(1, 2).Address, Is.EqualTo(new DevicePointer(0x1010)));
        Assert.That(new DeviceSpan<ushort>(new DevicePointer(0x2000), 5).Slice(3).Address, Is.EqualTo(new DevicePointer(0x2006)));
        Assert.That((Span.ByteLength, Span.ToString()), Is.EqualTo((256L, "64 Single at 0x1000")));
    }

    [TestCase(-1, 1)]
    [TestCase(0, 65)]
    [TestCase(60, 5)]
    [TestCase(65, 0)]
    [TestCase(1, -1)]
    public void RangesOutsideTheSpanAreRefused(long start, long length)
        => Assert.That(() => Span.Slice(start, length), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("outside a device span of 64 Single"));

    [Test]
    public void OffsetsPastTheEndAndNegativeLengthsAreRefused()
    {
        Assert.That(() => Span.Slice(65), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("offset 65"));
        Assert.That(() => new DeviceSpan<float>(new DevicePointer(0x1000), -1), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(default(DeviceSpan<int>).IsNull, Is.True);
    }
}
