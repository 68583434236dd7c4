using NUnit.Framework;
using Qwen3Next.Backends;

namespace Qwen3Next.Tests.Ops.Moe;

/// <summary>
/// <c>accumulate</c> folds the decoder layer's residual add into the MoE block: y0 + block(x) must be bit-identical to
/// adding the block's separate output to y0 (the same two float additions), for decode (the fused path on ptx) and
/// prefill, on every backend that runs here.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.AllBackends))]
public sealed class MoeAccumulateTests(string backendName)
{
    private IKernelBackend Backend => TestBackends.Get(backendName);

    [TestCase(1)]
    [TestCase(12)]
    public void AccumulatingAddsTheOutputToY(int tokens)
    {
        var c = new MoeCase(new MoeShape(64, 16, 4, 24, 32, true), tokens, seed: 21 + tokens);
        var y0 = Enumerable.Range(0, tokens * c.Shape.Hidden).Select(i => MathF.Sin(i * 0.37f)).ToArray();
        using var weights = c.Load(Backend);
        var (alone, _) = c.Run(Backend, weights);

        using var x = Backend.Upload(c.X);
        using var y = Backend.Upload(y0);
        Backend.Moe.Block(c.Shape, tokens, x, weights, y, accumulate: true);
        var actual = new float[y0.Length];
        Backend.Download(y, actual);
        Assert.That(actual, Is.EqualTo(y0.Zip(alone, (a, b) => a + b).ToArray()));
    }

    [Test]
    public void YAliasingXIsRefused()
    {
        var c = new MoeCase(new MoeShape(64, 16, 4, 24, 32, true), 1, seed: 2);
        using var weights = c.Load(Backend);
        using var x = Backend.Upload(c.X);
        Assert.That(() => Backend.Moe.Block(c.Shape, 1, x, weights, x, accumulate: true),
            Throws.ArgumentException.With.Message.Contains("y must not alias x"));
    }
}
