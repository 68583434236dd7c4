using NUnit.Framework;
using Qwen3Next.Graph;

namespace Qwen3Next.Tests.Graph;

public sealed class TokenSamplerTests
{
    private static readonly float[] Logits = [0.1f, 3f, 2.9f, -1f, 3f];

    [Test]
    public void GreedyTakesLowestIndexOfTheMaximum() => Assert.That(new TokenSampler(SamplingOptions.Greedy).Next(Logits), Is.EqualTo(1));

    [Test]
    public void TopKOneIsGreedyAtAnyTemperature()
        => Assert.That(new TokenSampler(new SamplingOptions(Temperature: 5f, TopK: 1, Seed: 3)).Next(Logits), Is.EqualTo(1));

    [Test]
    public void SameSeedSameTokens()
    {
        var options = new SamplingOptions(Temperature: 1f, TopP: 0.9f, Seed: 42);
        var a = new TokenSampler(options);
        var b = new TokenSampler(options);
        var first = Enumerable.Range(0, 20).Select(_ => a.Next(Logits)).ToArray();
        var second = Enumerable.Range(0, 20).Select(_ => b.Next(Logits)).ToArray();
        Assert.That(second, Is.EqualTo(first));
        Assert.That(first.Distinct().Count(), Is.GreaterThan(1), "temperature 1 over near-equal logits should not always pick one token");
    }

    [Test]
    public void TopPKeepsOnlyTheNucleus()
    {
        var sampler = new TokenSampler(new SamplingOptions(Temperature: 1f, TopP: 0.5f, Seed: 1));
        var picks = Enumerable.Range(0, 200).Select(_ => sampler.Next(Logits)).Distinct().Order().ToArray();
        Assert.That(picks, Is.SubsetOf(new[] { 1, 4 }));
    }

    [TestCase(-1f, 1f, 0)]
    [TestCase(1f, 0f, 0)]
    [TestCase(1f, 1.5f, 0)]
    [TestCase(1f, 1f, -2)]
    public void RejectsInvalidOptions(float temperature, float topP, int topK)
        => Assert.That(() => new TokenSampler(new SamplingOptions(temperature, topP, topK)), Throws.ArgumentException);
}
