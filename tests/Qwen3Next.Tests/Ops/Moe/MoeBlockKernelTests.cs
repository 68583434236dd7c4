using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.Moe;

namespace Qwen3Next.Tests.Ops.Moe;

/// <summary>
/// The MoE block kernels — ILGPU's on the CPU accelerator, and the CUDA C and ILGPU PTX on the emulator with the sanitizer
/// on — against the C# references.
/// Tolerance: atol 1e-5 on outputs and weights of magnitude ~1. Both sides accumulate in fp32 but in different orders
/// (k-tiles of 64 versus TensorPrimitives' vector lanes); for dot products of ≤ 130 terms of size ~1/sqrt(n) that noise
/// is ~1e-7–1e-6, and 1e-5 is the golden MoE tolerance (two reference accumulation orders differ by 2.4e-7). Expert
/// choices are discrete: they must match exactly, in order, including ties (lower expert id first).
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.KernelBackends))]
public sealed class MoeBlockKernelTests(string backendName)
{
    private const float Atol = 1e-5f;

    /// <summary>Shared for the run (and disposed) by <see cref="TestBackends"/>.</summary>
    private IKernelBackend Backend => TestBackends.Get(backendName);

    /// <summary>Decode: one token, so each of its k experts owns a single one-row tile (the GEMV shape).</summary>
    [Test]
    public void DecodeSingleTokenMatchesReference()
        => CheckBlock(new MoeCase(new MoeShape(64, 16, 4, 32, 48, true), tokens: 1, seed: 1));

    /// <summary>3 tokens × top-2 of 64 experts: at least 58 experts get no rows and own no tiles.</summary>
    [Test]
    public void ExpertsWithoutTokensAreSkipped()
    {
        var c = new MoeCase(new MoeShape(64, 64, 2, 32, 32, true), tokens: 3, seed: 2);
        var routing = CheckBlock(c);
        Assert.That(routing.Selected.Distinct().Count(), Is.LessThan(c.Shape.Experts));
    }

    /// <summary>Prefill at awkward sizes: hidden 96 and I=40 leave partial k and feature tiles, 8 experts × top-2 over
    /// 65 and 130 tokens give experts more than one 32-row tile, and 63/64 sit at the tile edge.</summary>
    [TestCase(63)]
    [TestCase(64)]
    [TestCase(65)]
    [TestCase(130)]
    public void PrefillAwkwardSizesMatchReference(int tokens)
        => CheckBlock(new MoeCase(new MoeShape(96, 8, 2, 40, 72, true), tokens, seed: 100 + tokens));

    /// <summary>Without norm_topk_prob the weights are the raw top-k probabilities; the CUDA C router always renormalises
    /// (Qwen3-Next has norm_topk_prob) and refuses such a shape by name.</summary>
    [Test]
    public void UnnormalisedWeightsMatchReference()
    {
        var c = new MoeCase(new MoeShape(32, 16, 3, 16, 16, false), tokens: 5, seed: 3);
        if (Backend is PtxBackend)
        {
            Assert.That(() => c.Run(Backend), Throws.ArgumentException.With.Message.Contains("norm_topk_prob"));
            return;
        }

        CheckBlock(c);
    }

    /// <summary>The real router width: top-10 of 512 experts over 12 tokens, compared in order against the reference.</summary>
    [Test]
    public void RoutingOf512ExpertsTop10MatchesReference()
        => CheckBlock(new MoeCase(new MoeShape(32, 512, 10, 8, 8, true), tokens: 12, seed: 4));

    /// <summary>Router rows repeated in groups of four give exactly equal logits: ties must go to the lower expert id,
    /// and the group straddling the k-th place must be cut at the same id as the reference.</summary>
    [Test]
    public void TiesGoToTheLowerExpertId()
    {
        var c = new MoeCase(new MoeShape(32, 32, 6, 16, 16, true), tokens: 9, seed: 5);
        for (int e = 0; e < c.Shape.Experts; e++)
        {
            Array.Copy(c.Router, (e / 4) * 4 * c.Shape.Hidden, c.Router, e * c.Shape.Hidden, c.Shape.Hidden);
        }

        var routing = CheckBlock(c);
        for (int t = 0; t < c.Tokens; t++)
        {
            var row = routing.Selected.AsSpan(t * 6, 6).ToArray();
            Assert.That(row[..4].Select(e => e / 4).Distinct().Count(), Is.EqualTo(1), "the top four are one tied group");
            Assert.That(row[..4], Is.Ordered, "ties in ascending expert id");
        }
    }

    /// <summary>The permutation places rows by atomics, yet the un-permute sums in rank order: two runs are bit-identical.</summary>
    [Test]
    public void OutputIsDeterministic()
    {
        var c = new MoeCase(new MoeShape(32, 8, 3, 16, 16, true), tokens: 40, seed: 6);
        var (first, _) = c.Run(Backend);
        var (second, _) = c.Run(Backend);
        Assert.That(second, Is.EqualTo(first).AsCollection);
    }

    private MoeRouting CheckBlock(MoeCase c)
    {
        var (y, routing) = c.Run(Backend);
        var (expectedY, expected) = c.RunReference();
        Assert.Multiple(() =>
        {
            Assert.That(routing.Logits, Is.EqualTo(expected.Logits).AsCollection.Within(Atol), "router logits");
            Assert.That(routing.Selected, Is.EqualTo(expected.Selected).AsCollection, "selected experts, in order");
            Assert.That(routing.Weights, Is.EqualTo(expected.Weights).AsCollection.Within(Atol), "routing weights");
            Assert.That(y, Is.EqualTo(expectedY).AsCollection.Within(Atol), "block output");
        });
        return routing;
    }
}

/// <summary>The ILGPU routing kernels keep the probabilities of at most 512 experts in shared memory; more is refused.</summary>
[TestFixture]
public sealed class IlgpuMoeLimitTests
{
    [Test]
    public void RejectsMoreExpertsThanTheKernelsHold()
    {
        var backend = TestBackends.Get("ilgpu-cpu");
        var shape = new MoeShape(8, 513, 2, 8, 8, true);
        var c = new MoeCase(shape, tokens: 1, seed: 7);
        using var weights = c.Load(backend);
        using var x = backend.Upload(c.X);
        using var y = backend.Allocate(8);
        Assert.That(() => backend.Moe.Block(shape, 1, x, weights, y), Throws.ArgumentException.With.Message.Contains("512"));
    }
}
