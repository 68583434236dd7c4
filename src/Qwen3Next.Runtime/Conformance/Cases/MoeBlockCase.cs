using Qwen3Next.Backends;
using Qwen3Next.Graph;

namespace Qwen3Next.Conformance.Cases;

/// <summary><c>moe_block</c>: router logits, expert sets, routing weights (matched by expert id) and the block output.</summary>
internal static class MoeBlockCase
{
    public static IEnumerable<CheckResult> Run(GoldenFile f, IKernelBackend b)
    {
        var shape = new MoeShape(f.Dim("hidden_size"), f.Dim("num_experts"), f.Dim("num_experts_per_tok"), f.Dim("moe_intermediate_size"),
            f.Dim("shared_expert_intermediate_size"), f.Flag("norm_topk_prob", true));
        int t = f.Dim("T"), k = shape.TopK;
        using var block = MoeBlock.Load(b, shape, new TensorLookup(name => f[name]));
        using var x = b.Upload(f.F32("hidden_states"));
        using var y = b.Allocate((long)t * shape.Hidden);
        var routing = new MoeRouting(t, shape);
        block.Forward(b, x, t, y, routing);

        yield return CheckResult.Compare(f.Case, "router_logits", routing.Logits, f.F32("router_logits"), GoldenTolerances.Moe.For(b));
        var expectedSelected = f.I64("selected_experts");
        var selected = routing.Selected.Select(e => (long)e).ToArray();
        yield return CheckResult.Sets(f.Case, "selected_experts", selected, expectedSelected, k);

        // Align our weights with the golden order by expert id so the comparison ignores order within the top-k.
        var expectedWeights = f.F32("routing_weights");
        var aligned = new float[t * k];
        for (int r = 0; r < t; r++)
        {
            for (int j = 0; j < k; j++)
            {
                int at = Array.IndexOf(selected, expectedSelected[(r * k) + j], r * k, k);
                aligned[(r * k) + j] = at >= 0 ? routing.Weights[at] : float.NaN;
            }
        }

        yield return CheckResult.Compare(f.Case, "routing_weights", aligned, expectedWeights, GoldenTolerances.Moe.For(b));
        yield return CheckResult.Compare(f.Case, "output", CaseSteps.Download(b, y), f.F32("output"), GoldenTolerances.Moe.For(b));
    }
}
