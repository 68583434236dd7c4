using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Conformance;

namespace Qwen3Next.Tests.Conformance;

/// <summary>The per-precision criteria of the conformance runner: fla's relative RMS for fast precision, computed by
/// hand here, and the mutual top-k token check; and which backend offers which precision.</summary>
public sealed class PrecisionCriterionTests
{
    [Test]
    public void RelativeRmsIsTheErrorNormOverTheReferenceNorm()
    {
        // expected (3, 4): norm 5; error (0.01, -0.02): norm sqrt(5e-4) → ratio sqrt(5e-4)/5 = 4.472e-3.
        float[] expected = [3, 4];
        float[] actual = [3.01f, 3.98f];
        double ratio = Math.Sqrt((0.01 * 0.01) + (0.02 * 0.02)) / 5;
        var pass = CheckResult.Compare("c", "o", actual, expected, Tolerance.RelativeRms(4.5e-3));
        var fail = CheckResult.Compare("c", "o", actual, expected, Tolerance.RelativeRms(4.4e-3));
        Assert.That(pass.Passed, Is.True, pass.Detail);
        Assert.That(fail.Passed, Is.False, fail.Detail);
        Assert.That(pass.Detail, Does.Contain($"{ratio:E2}"));
    }

    [Test]
    public void RelativeRmsFailsOnNaNAndOnAnyErrorAgainstZeros()
    {
        Assert.That(CheckResult.Compare("c", "o", [1, float.NaN], [1, 1], Tolerance.RelativeRms(1)).Passed, Is.False);
        Assert.That(CheckResult.Compare("c", "o", [0, 1e-30f], [0, 0], Tolerance.RelativeRms(1)).Passed, Is.False);
        Assert.That(CheckResult.Compare("c", "o", [0, 0], [0, 0], Tolerance.RelativeRms(0)).Passed, Is.True);
    }

    [Test]
    public void FastPrecisionSwapsTheCriterionAndExactKeepsTheGoldenTolerance()
    {
        using var exact = BackendRegistry.Create("ptx-emu", Precision.Exact);
        using var fast = BackendRegistry.Create("ptx-emu", Precision.Fast);
        Assert.That(GoldenTolerances.Moe.For(exact), Is.EqualTo(GoldenTolerances.Moe));
        Assert.That(GoldenTolerances.Moe.For(fast), Is.EqualTo(Tolerance.RelativeRms(5e-3)));
    }

    [Test]
    public void MutualTopKNeedsEachArgmaxAmongTheOthersBest()
    {
        // Step 0: argmaxes 0 and 1, each second in the other row → inside top 2, outside top 1.
        // Step 1: ours picks 3, which is last in theirs.
        float[] ours = [5, 4, 0, 0, /**/ 0, 1, 2, 9];
        float[] theirs = [4, 5, 0, 0, /**/ 9, 3, 2, 1];
        var top2 = CheckResult.MutualTopK("c", "t", ours, theirs, 4, 2);
        Assert.That(top2.Passed, Is.False);
        Assert.That(top2.Detail, Does.Contain("step 1").And.Not.Contain("step 0"));
        Assert.That(CheckResult.MutualTopK("c", "t", ours.AsSpan(0, 4), theirs.AsSpan(0, 4), 4, 2).Passed, Is.True);
        Assert.That(CheckResult.MutualTopK("c", "t", ours.AsSpan(0, 4), theirs.AsSpan(0, 4), 4, 1).Passed, Is.False);
    }

    [TestCase("reference", Precision.Exact)]
    [TestCase("ilgpu-cpu", Precision.Exact)]
    [TestCase("ptx-emu", Precision.Exact)]
    [TestCase("ptx", Precision.Fast)]
    public void DefaultsAreFastOnTheGpuAndExactElsewhere(string backend, Precision expected)
        => Assert.That(PrecisionModes.DefaultFor(backend), Is.EqualTo(expected));

    [TestCase("reference")]
    [TestCase("ilgpu-cpu")]
    [TestCase("ilgpu-emu")]
    public void BackendsWithoutAFastModeRefuseIt(string backend)
        => Assert.That(() => BackendRegistry.Create(backend, Precision.Fast),
            Throws.ArgumentException.With.Message.Contains($"The {backend} backend has no fast precision mode"));

    [Test]
    public void PrecisionNamesParse()
    {
        Assert.That(PrecisionModes.Parse(" FAST "), Is.EqualTo(Precision.Fast));
        Assert.That(PrecisionModes.Parse("exact"), Is.EqualTo(Precision.Exact));
        Assert.That(() => PrecisionModes.Parse("half"), Throws.ArgumentException.With.Message.Contains("'half'"));
    }
}
