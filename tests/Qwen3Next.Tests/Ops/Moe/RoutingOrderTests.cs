using NUnit.Framework;
using Qwen3Next.Ops.Moe;

namespace Qwen3Next.Tests.Ops.Moe;

/// <summary>The routing order: higher probability first, ties to the lower id, NaN after every number.</summary>
public sealed class RoutingOrderTests
{
    [Test]
    public void NaNRanksLastAndTiesGoToTheLowerId()
    {
        float[] p = [0.2f, float.NaN, 0.5f, 0.2f, float.NaN, 0f];
        var order = Enumerable.Range(0, p.Length).ToList();
        order.Sort((a, b) => a == b ? 0 : RoutingOrder.Before(p[a], a, p[b], b) ? -1 : 1);
        Assert.That(order, Is.EqualTo(new[] { 2, 0, 3, 5, 1, 4 }));
    }

    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    [TestCase(float.NegativeInfinity)]
    public void ANonFiniteLogitSelectsTheFirstKExpertsWithNaNWeights(float logit)
    {
        var logits = Enumerable.Range(0, 12).Select(i => i * 0.1f).ToArray();
        logits[7] = logit;
        if (float.IsNegativeInfinity(logit))
        {
            Array.Fill(logits, float.NegativeInfinity); // only all −∞ makes the softmax undefined
        }

        var selected = new int[4];
        var weights = new float[4];
        MoeRoutingReference.Route(logits, 4, normalize: true, selected, weights);
        Assert.That(selected, Is.EqualTo(new[] { 0, 1, 2, 3 }));
        Assert.That(weights, Is.All.NaN);
    }
}
