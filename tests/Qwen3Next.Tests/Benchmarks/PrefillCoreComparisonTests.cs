using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Benchmarks;

namespace Qwen3Next.Tests.Benchmarks;

/// <summary>
/// Issue 13's prefill comparison at the real head shapes and a short sequence (130 tokens, two CTAs per launch), through
/// the ptx backend's launchers in both precisions: all four ops are modeled, the fast ones on the tensor-core kernels,
/// each core kernel has a bound, and the tensor-core kernels model faster than the fp32 ones they replace (the 32K
/// figures in the README come from <c>kernels profile --prefill-cores</c>).
/// </summary>
public sealed class PrefillCoreComparisonTests
{
    [Test]
    public void ModelsExactAndTensorCoreKernelsOfBothOps()
    {
        if (Qwen3Next.Cuda.PtxCatalog.Embedded.IsEmpty)
        {
            Assert.Ignore("No PTX is embedded: nvcc was not available when the runtime was built.");
        }

        var report = PrefillCoreComparison.Run(130, sampleCtas: 2);
        double Core(string op) => report.Ops.Single(o => o.Op == op).Launches.Where(l => PrefillCoreComparison.IsCoreKernel(l.Kernel)).Sum(l => l.Seconds);
        var kernels = report.Ops.SelectMany(o => o.Launches).Select(l => l.Kernel).Where(PrefillCoreComparison.IsCoreKernel).ToList();
        Assert.That(kernels, Is.EquivalentTo(new[]
        {
            "gdn_chunk_prepare", "gdn_chunk_state_pass", "gdn_tc_prepare", "gdn_tc_state_pass", "gdn_tc_output", "attn_flash_prefill",
            "attn_flash_prefill_tc",
        }));
        Assert.That(Core(PrefillCoreComparison.RuleOp(Precision.Fast)), Is.LessThan(Core(PrefillCoreComparison.RuleOp(Precision.Exact))));
        Assert.That(Core(PrefillCoreComparison.AttentionOp(Precision.Fast)), Is.LessThan(Core(PrefillCoreComparison.AttentionOp(Precision.Exact))));
        Assert.That(report.Ops.SelectMany(o => o.Launches).Select(l => l.Estimate.Seconds), Is.All.GreaterThan(0));
    }

    /// <summary>Issue 13's gated-delta target (2.8 ms at 32,768 tokens) scaled to a suite-sized sequence of 2,048 tokens:
    /// the rule's time grows about linearly with its chunks and fixed costs weigh more on a short sequence, so meeting
    /// the scaled target here is the stricter side of the 32K one (the 32K figure itself is in the README).</summary>
    [Test]
    public void TensorCoreRuleMeetsTheScaledTarget()
    {
        if (Qwen3Next.Cuda.PtxCatalog.Embedded.IsEmpty)
        {
            Assert.Ignore("No PTX is embedded: nvcc was not available when the runtime was built.");
        }

        const int Tokens = 2048;
        var report = PrefillCoreComparison.Run(Tokens, sampleCtas: 2, precisions: [Precision.Fast]);
        var launches = report.Ops.Single(o => o.Op == PrefillCoreComparison.RuleOp(Precision.Fast)).Launches
            .Where(l => PrefillCoreComparison.IsCoreKernel(l.Kernel)).ToList();
        Assert.That(launches.Select(l => l.Kernel), Is.EquivalentTo(new[] { "gdn_tc_prepare", "gdn_tc_state_pass", "gdn_tc_output" }));
        double milliseconds = launches.Sum(l => l.Seconds) * 1e3;
        Assert.That(milliseconds, Is.LessThanOrEqualTo(2.8 * Tokens / 32768), "modeled ms of the tensor-core rule");
    }
}
