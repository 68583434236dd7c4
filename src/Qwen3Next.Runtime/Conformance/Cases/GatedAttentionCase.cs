using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;

namespace Qwen3Next.Conformance.Cases;

/// <summary><c>gated_attention_layer</c>: causal prefill, then N decode steps reading the KV cache.</summary>
internal static class GatedAttentionCase
{
    public static IEnumerable<CheckResult> Run(GoldenFile f, IKernelBackend b)
    {
        var shape = new GatedAttentionShape(f.Dim("hidden_size"), f.Dim("num_attention_heads"), f.Dim("num_key_value_heads"), f.Dim("head_dim"),
            f.Dim("rotary_dim"), (float)f.Number("rope_theta"), (float)f.Number("rms_norm_eps"));
        int t = f.Dim("T_prefill"), n = f.Dim("N_decode"), hidden = shape.Hidden;
        var positions = f.I64("position_ids").Concat(f.I64("decode_position_ids")).ToArray();
        for (int i = 0; i < positions.Length; i++)
        {
            if (positions[i] != i)
            {
                throw new CheckpointException($"positions must run 0, 1, 2, ...; position {i} is {positions[i]}.", f.Path, "position_ids");
            }
        }

        using var mixer = GatedAttentionMixer.Load(b, shape, new TensorLookup(name => f[name]));
        using var cache = mixer.CreateCache(b, t + n);
        using (var x = b.Upload(f.F32("hidden_states")))
        using (var y = b.Allocate((long)t * hidden))
        {
            mixer.Forward(b, x, t, cache, y);
            yield return CheckResult.Compare(f.Case, "output (prefill)", CaseSteps.Download(b, y), f.F32("output"), GoldenTolerances.Attention.For(b));
        }

        var decodeOut = CaseSteps.Decode(b, f.F32("decode_hidden_states"), n, hidden, (x, y) => mixer.Forward(b, x, 1, cache, y));

        yield return CheckResult.Compare(f.Case, $"decode_output ({n} steps)", decodeOut, f.F32("decode_output"), GoldenTolerances.Attention.For(b));
        yield return CheckResult.Compare(f.Case, "key_cache", CaseSteps.Download(b, cache.Keys), f.F32("key_cache"), GoldenTolerances.Attention.For(b));
        yield return CheckResult.Compare(f.Case, "value_cache", CaseSteps.Download(b, cache.Values), f.F32("value_cache"), GoldenTolerances.Attention.For(b));
    }
}
