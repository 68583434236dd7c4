using NUnit.Framework;
using Qwen3Next.Checkpoint;
using Qwen3Next.Streaming;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Streaming;

/// <summary>The decode-step composition of <c>kernels plan</c>, checked by hand on the published 80B config.</summary>
public sealed class DecodeTimeModelTests
{
    private static ModelConfig Real => ModelConfig.Parse(PublishedConfig.Json, "config.json");

    [Test]
    public void ComposesTheStepKernelByKernel()
    {
        // 1 µs per MB of weights, so a GEMV of r x c bf16 weights takes 2·r·c·1e-6 µs (at least the 2.5 µs launch floor).
        var times = new DecodeKernelTimes(MatMulDecode: 50.331648, MatMulDecodeWeightBytes: 50_331_648, GatedDeltaDecode: 10, AttentionDecode: 100,
            AttentionContext: 4096, MoeDecode: 100, LaunchFloor: 2.5);
        var step = DecodeTimeModel.Estimate(Real, times);

        // Linear layer: in_proj_qkvz 12288x2048 (50.33) + in_proj_ba 64x2048 (0.26 -> 2.5) + out_proj 2048x4096 (16.78), 36 layers;
        // attention layer: q_proj 8192x2048 (33.55) + k, v 512x2048 (2.10 -> 2.5 each) + o_proj 2048x4096 (16.78), 12 layers.
        double projections = (36 * (50.331648 + 2.5 + 16.777216)) + (12 * (33.554432 + (2 * 2.5) + 16.777216));
        Assert.That(step.Projections * 1e6, Is.EqualTo(projections).Within(1e-6));
        Assert.That(step.Mixers * 1e6, Is.EqualTo((36 * 10) + (12 * 100)).Within(1e-9));
        Assert.That(step.Moe * 1e6, Is.EqualTo(48 * 100).Within(1e-9));
        Assert.That(step.NormsAndAdds * 1e6, Is.EqualTo(((3 * 48) + 1) * 2.5).Within(1e-9));
        Assert.That(step.Head * 1e6, Is.EqualTo(2.0 * 151936 * 2048 * 1e-6).Within(1e-9));
    }

    [Test]
    public void TheBuiltInProfileHasEveryDecodeWorkload()
    {
        var t = DecodeKernelTimes.Embedded;
        Assert.That(new[] { t.MatMulDecode, t.GatedDeltaDecode, t.AttentionDecode, t.MoeDecode }, Has.All.GreaterThan(0));
    }

    [Test]
    public void AProfileWithoutTheDecodeWorkloadsIsRefusedByName()
        => Assert.That(() => DecodeKernelTimes.FromProfileJson("""{"ops":[{"op":"matmul-decode x","modeledUs":1}]}""", "p.json"),
            Throws.TypeOf<FormatException>().With.Message.Contains("p.json has no 'gdn-decode' workload"));
}
