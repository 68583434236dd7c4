using Qwen3Next.Backends;

namespace Qwen3Next.Conformance.Cases;

/// <summary><c>gated_delta_rule</c>: the bare rule, chunked against <c>o</c>/<c>final_state</c> and, where stored,
/// recurrent against <c>o_recurrent</c>/<c>final_state_recurrent</c>.</summary>
internal static class GatedDeltaRuleCase
{
    public static IEnumerable<CheckResult> Run(GoldenFile f, IKernelBackend b)
    {
        var shape = new GatedDeltaShape(f.Dim("T"), f.Dim("num_k_heads"), f.Dim("num_v_heads"), f.Dim("head_k_dim"), f.Dim("head_v_dim"));
        bool l2 = f.Flag("use_qk_l2norm_in_kernel", true);
        float scale = (float)f.Number("scale");
        var initial = f.Has("initial_state") ? f.F32("initial_state") : new float[shape.ValueHeads * shape.KeyDim * shape.ValueDim];
        var modes = new List<(GatedDeltaMode Mode, string O, string State)> { (GatedDeltaMode.Chunked, "o", "final_state") };
        if (f.Has("o_recurrent"))
        {
            modes.Add((GatedDeltaMode.Recurrent, "o_recurrent", "final_state_recurrent"));
        }

        using var q = b.Upload(f.F32("q"));
        using var k = b.Upload(f.F32("k"));
        using var v = b.Upload(f.F32("v"));
        using var g = b.Upload(f.F32("g"));
        using var beta = b.Upload(f.F32("beta"));
        foreach (var (mode, oName, stateName) in modes)
        {
            using var state = b.Upload(initial);
            using var o = b.Allocate(f[oName].ElementCount);
            b.GatedDelta.Rule(shape, q, k, v, g, beta, state, o, l2, scale, mode);
            string tag = mode == GatedDeltaMode.Chunked ? "chunked" : "recurrent";
            yield return CheckResult.Compare(f.Case, $"{oName} ({tag})", CaseSteps.Download(b, o), f.F32(oName), GoldenTolerances.RuleOutput.For(b));
            if (f.Has(stateName))
            {
                yield return CheckResult.Compare(f.Case, $"{stateName} ({tag})", CaseSteps.Download(b, state), f.F32(stateName), GoldenTolerances.RuleState.For(b));
            }
        }
    }
}
