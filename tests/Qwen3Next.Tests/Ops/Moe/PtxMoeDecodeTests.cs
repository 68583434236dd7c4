using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;

namespace Qwen3Next.Tests.Ops.Moe;

/// <summary>
/// The fused decode MoE block (<c>kernels/moe/decode_fused.cu</c>: routing, routed + shared gate/up, down + combine) on
/// the PTX emulator with the sanitizer on, against the C# references at awkward sizes: T = 1, 2, 3 and 8 (the GEMV
/// limit), hidden 96 (128-bit loads) and 100 (the scalar path), I = 40 and Is ≠ I, k up to 10 of 64. Tolerance: atol
/// 1e-5 as in <see cref="IlgpuMoeOpsTests"/> (fp32 dot products of ≤ 100 O(1/sqrt(n)) terms in a different order than
/// TensorPrimitives; the golden MoE tolerance). Expert choices are discrete and must match exactly, in order.
/// </summary>
[TestFixture]
public sealed class PtxMoeDecodeTests
{
    private const float Atol = 1e-5f;

    private static PtxBackend Emu => (PtxBackend)TestBackends.Get("ptx-emu");

    [TestCase(1, 96, 64, 10, 40, 72)]
    [TestCase(2, 96, 16, 4, 40, 24)]
    [TestCase(3, 100, 32, 6, 40, 40)]
    [TestCase(8, 96, 64, 10, 32, 48)]
    [TestCase(1, 100, 8, 8, 16, 8)]
    public void MatchesReference(int tokens, int hidden, int experts, int topK, int intermediate, int sharedIntermediate)
    {
        var c = new MoeCase(new MoeShape(hidden, experts, topK, intermediate, sharedIntermediate, true), tokens, seed: (tokens * 7) + hidden + experts);
        var (expected, expectedRouting) = c.RunReference();
        using var weights = c.Load(Emu);
        var (y, routing) = c.Run(Emu, weights);
        Assert.That(routing.Selected, Is.EqualTo(expectedRouting.Selected), "selected experts, in rank order");
        AssertClose(routing.Logits, expectedRouting.Logits, "router logits");
        AssertClose(routing.Weights, expectedRouting.Weights, "routing weights");
        AssertClose(y, expected, "y");
    }

    /// <summary>The unfused path (nine launches) picks the same experts and agrees within the tolerance.</summary>
    [Test]
    public void FusedAndUnfusedDecodeAgree()
    {
        var c = new MoeCase(new MoeShape(96, 32, 8, 40, 56, true), tokens: 2, seed: 11);
        using var weights = c.Load(Emu);
        var (fused, fusedRouting) = c.Run(Emu, weights);
        var ops = (Qwen3Next.Ops.Moe.PtxMoeOps)Emu.Moe;
        ops.UnfusedDecode = true;
        try
        {
            var (unfused, unfusedRouting) = c.Run(Emu, weights);
            Assert.That(fusedRouting.Selected, Is.EqualTo(unfusedRouting.Selected));
            AssertClose(fused, unfused, "y");
        }
        finally
        {
            ops.UnfusedDecode = false;
        }
    }

    /// <summary>A decode MoE block is three launches and, once its workspaces exist, no allocation, memset or host
    /// synchronisation.</summary>
    [Test]
    public void DecodeIsThreeLaunchesWithoutHostRoundTrips()
    {
        var c = new MoeCase(new MoeShape(64, 16, 4, 32, 32, true), tokens: 1, seed: 3);
        using var weights = c.Load(Emu);
        using var x = Emu.Upload(c.X);
        using var y = Emu.Allocate(c.Shape.Hidden);
        Emu.Moe.Block(c.Shape, 1, x, weights, y);
        var before = Emu.DriverCounters.Snapshot();
        Emu.Moe.Block(c.Shape, 1, x, weights, y);
        var d = Emu.DriverCounters.Since(before);
        Assert.That((d.Launches, d.Memsets, d.Allocations, d.Frees, d.HostSynchronizations), Is.EqualTo((3L, 0L, 0L, 0L, 0L)));
    }

    private static void AssertClose(float[] actual, float[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(Atol), $"{what}[{i}]");
        }
    }
}
