using NUnit.Framework;
using Qwen3Next.PtxEmulator.Model;

namespace Qwen3Next.Tests.Emulator;

/// <summary>Occupancy by the cc 9.0 occupancy-calculator rules, checked against hand calculation.</summary>
public sealed class OccupancyTests
{
    private static readonly H200Spec Spec = H200Spec.Default;

    [Test]
    public void MatmulMmaIsLimitedByRegisters()
    {
        // 68 regs × 32 = 2176 → 2304 per warp; 65536 / 2304 = 28 warps = 7 CTAs of 4 warps.
        // Shared: 15872 + 1024 reserved = 16896 B → 233472 / 16896 = 13 CTAs.
        var o = Occupancy.Compute(Spec, 128, 68, 15872);
        Assert.That((o.CtasPerSm, o.Limiter, o.RegistersPerWarp, o.SharedBytesPerCta), Is.EqualTo((7, "registers", 2304, 16896)));
        Assert.That(o.Fraction(Spec), Is.EqualTo(28.0 / 64));
    }

    [Test]
    public void SmallBlocksAreLimitedByTheBlockCount()
    {
        var o = Occupancy.Compute(Spec, 32, 16, 0);
        Assert.That((o.CtasPerSm, o.Limiter), Is.EqualTo((32, "blocks")));
    }

    [Test]
    public void LargeSharedMemoryLimitsToOneBlock()
    {
        var o = Occupancy.Compute(Spec, 256, 32, 150 * 1024);
        Assert.That((o.CtasPerSm, o.Limiter), Is.EqualTo((1, "shared memory")));
    }

    [Test]
    public void FullBlocksAreLimitedByWarps()
    {
        var o = Occupancy.Compute(Spec, 1024, 32, 0);
        Assert.That((o.CtasPerSm, o.Limiter), Is.EqualTo((2, "warps")));
    }

    [Test]
    public void ABlockThatCannotFitIsAClearError()
    {
        Assert.That(() => Occupancy.Compute(Spec, 1024, 255, 0),
            Throws.TypeOf<H200ModelException>().With.Message.Contains("registers"));
        Assert.That(() => Occupancy.Compute(Spec, 128, 0, 0), Throws.TypeOf<ArgumentOutOfRangeException>());
    }
}
