using Qwen3Next.Backends;
using Qwen3Next.Graph;

namespace Qwen3Next.Conformance.Cases;

/// <summary><c>gated_deltanet_layer</c>: a chunked prefill, then N single-token decode steps through the cached states.</summary>
internal static class GatedDeltaNetLayerCase
{
    public static IEnumerable<CheckResult> Run(GoldenFile f, IKernelBackend b)
    {
        var shape = new GatedDeltaNetShape(f.Dim("hidden_size"), f.Dim("linear_num_key_heads"), f.Dim("linear_num_value_heads"),
            f.Dim("linear_key_head_dim"), f.Dim("linear_value_head_dim"), f.Dim("linear_conv_kernel_dim"), (float)f.Number("rms_norm_eps"));
        int t = f.Dim("T_prefill"), n = f.Dim("N_decode"), hidden = shape.Hidden;
        using var mixer = GatedDeltaNetMixer.Load(b, shape, new TensorLookup(name => f[name]));
        using var state = mixer.CreateState(b);

        using (var x = b.Upload(f.F32("hidden_states")))
        using (var y = b.Allocate((long)t * hidden))
        {
            mixer.Forward(b, x, t, state, y);
            yield return CheckResult.Compare(f.Case, "output (prefill)", CaseSteps.Download(b, y), f.F32("output"), GoldenTolerances.LayerOutput.For(b));
        }

        if (f.Has("conv_state_after_prefill"))
        {
            yield return CheckResult.Compare(f.Case, "conv_state_after_prefill", CaseSteps.Download(b, state.Conv), f.F32("conv_state_after_prefill"), GoldenTolerances.LayerState.For(b));
            yield return CheckResult.Compare(f.Case, "recurrent_state_after_prefill", CaseSteps.Download(b, state.Recurrent), f.F32("recurrent_state_after_prefill"), GoldenTolerances.LayerState.For(b));
        }

        var decodeOut = CaseSteps.Decode(b, f.F32("decode_hidden_states"), n, hidden, (x, y) => mixer.Forward(b, x, 1, state, y));

        yield return CheckResult.Compare(f.Case, $"decode_output ({n} steps)", decodeOut, f.F32("decode_output"), GoldenTolerances.LayerOutput.For(b));
        yield return CheckResult.Compare(f.Case, "conv_state_final", CaseSteps.Download(b, state.Conv), f.F32("conv_state_final"), GoldenTolerances.LayerState.For(b));
        yield return CheckResult.Compare(f.Case, "recurrent_state_final", CaseSteps.Download(b, state.Recurrent), f.F32("recurrent_state_final"), GoldenTolerances.LayerState.For(b));
    }
}
