using NUnit.Framework;
using Qwen3Next.Checkpoint;
using Qwen3Next.Streaming;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Streaming;

/// <summary>The plan for the real 80B config against the byte counts of the spec (section 3).</summary>
public sealed class ResidencyPlanTests
{
    private static readonly ModelConfig Real = ModelConfig.Parse(PublishedConfig.Json, "published config");

    [Test]
    public void InventoryMatchesTheSpec()
    {
        var w = WeightInventory.From(Real);
        Assert.That(w.ExpertBytes, Is.EqualTo(6_291_456));
        Assert.That(w.LayerBytes[0], Is.EqualTo(75_837_824), "always-needed bytes of a linear-attention layer");
        Assert.That(w.LayerBytes[3], Is.EqualTo(62_927_872), "always-needed bytes of a full-attention layer");
        Assert.That(w.EmbeddingBytes, Is.EqualTo(622_329_856));
        Assert.That(w.TotalBytes, Is.EqualTo(159_348_782_592));
    }

    [Test]
    public void DecodeReadsTheSpecsBytesPerToken()
    {
        var plan = ResidencyPlan.Create(Real, budgetBytes: null);
        // Spec: 36 linear + 12 full layers, 480 experts, lm_head, final norm and one embedding row ≈ 7,127,533,056 bytes.
        Assert.That(plan.DeviceBytesPerToken, Is.EqualTo(7_127_533_056).Within(8192));
        Assert.That(plan.AllExpertsResident, Is.True);
        Assert.That(plan.HostToDeviceBytesPerToken(0.5), Is.Zero);
    }

    [Test]
    public void BudgetBecomesExpertSlots()
    {
        var plan = ResidencyPlan.Create(Real, ByteSize.Parse("40GiB"), maxTokens: 4096, prefillChunk: 512);
        Assert.That(plan.UsedBytes, Is.LessThanOrEqualTo(40L << 30));
        Assert.That(plan.UsedBytes + plan.Weights.ExpertBytes, Is.GreaterThan(40L << 30), "every whole slot that fits is used");
        Assert.That(plan.ExpertSlots, Is.GreaterThanOrEqualTo(plan.MinimumSlots));
        Assert.That(plan.HostToDeviceBytesPerToken(0.9), Is.EqualTo(48 * 10 * 0.1 * 6_291_456).Within(1));
    }

    [Test]
    public void ABudgetBelowTheAlwaysNeededWeightsStreamsLayers()
    {
        var plan = ResidencyPlan.Create(Real, ByteSize.Parse("6GiB"));
        Assert.That(plan.StreamsLayers, Is.True);
        Assert.That(plan.StageBytes, Is.EqualTo(75_837_824), "the largest layer (linear attention) sizes each staging buffer");
        Assert.That(plan.UsedBytes, Is.LessThanOrEqualTo(6L << 30));
        Assert.That(plan.HostToDeviceBytesPerToken(1.0), Is.EqualTo((36 * 75_837_824.0) + (12 * 62_927_872.0)));
    }

    [Test]
    public void TooSmallABudgetSaysHowMuchIsNeeded()
    {
        var e = Assert.Throws<InsufficientDeviceMemoryException>(() => ResidencyPlan.Create(Real, ByteSize.Parse("3GiB")))!;
        Assert.That(e.NeededBytes, Is.GreaterThan(4L << 30));
        Assert.That(e.Message, Does.Contain("too small").And.Contain(e.NeededBytes.ToString("N0")));
    }

    [TestCase("80GiB", 80L << 30)]
    [TestCase("512MB", 512_000_000L)]
    [TestCase("1.5G", 3L << 29)]
    [TestCase("1000", 1000L)]
    public void ParsesSizes(string text, long bytes) => Assert.That(ByteSize.Parse(text), Is.EqualTo(bytes));

    [TestCase("")]
    [TestCase("lots")]
    [TestCase("12 parsecs")]
    public void RejectsBadSizes(string text) => Assert.That(() => ByteSize.Parse(text), Throws.TypeOf<FormatException>());
}
