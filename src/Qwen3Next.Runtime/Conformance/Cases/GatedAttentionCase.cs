using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;

namespace Qwen3Next.Conformance.Cases;

/// <summary>
/// <c>gated_attention_layer</c>: causal prefill, then N decode steps reading the KV cache. Tokens are rotated at the
/// file's <c>position_ids</c> / <c>decode_position_ids</c> (they need not start at 0: HF's cache starts empty, so
/// token i of the case sits at cache index i whatever its position), one sequence in a contiguous cache.
/// </summary>
internal static class GatedAttentionCase
{
    public static IEnumerable<CheckResult> Run(GoldenFile f, IKernelBackend b)
    {
        var shape = new GatedAttentionShape(f.Dim("hidden_size"), f.Dim("num_attention_heads"), f.Dim("num_key_value_heads"), f.Dim("head_dim"),
            f.Dim("rotary_dim"), (float)f.Number("rope_theta"), (float)f.Number("rms_norm_eps"));
        int t = f.Dim("T_prefill"), n = f.Dim("N_decode"), hidden = shape.Hidden;
        var positions = Positions(f, t + n);

        using var mixer = GatedAttentionMixer.Load(b, shape, new TensorLookup(name => f[name]));
        using var cache = mixer.CreateCache(b, t + n);
        var paged = PagedKvCache.Of(cache);
        using (var x = b.Upload(f.F32("hidden_states")))
        using (var y = b.Allocate((long)t * hidden))
        {
            mixer.Forward(b, x, Step(positions, 0, t), paged, y);
            yield return CheckResult.Compare(f.Case, "output (prefill)", CaseSteps.Download(b, y), f.F32("output"), GoldenTolerances.Attention.For(b));
        }

        int step = t;
        var decodeOut = CaseSteps.Decode(b, f.F32("decode_hidden_states"), n, hidden, (x, y) => mixer.Forward(b, x, Step(positions, step++, 1), paged, y));

        yield return CheckResult.Compare(f.Case, $"decode_output ({n} steps)", decodeOut, f.F32("decode_output"), GoldenTolerances.Attention.For(b));
        // The fast precision's cache is bf16: read back widened to float, checked by the same criterion as the outputs.
        long cached = (long)shape.KeyValueHeads * (t + n) * shape.HeadDim;
        yield return CheckResult.Compare(f.Case, "key_cache", KvElements.Download(b, cache.Keys, cache.Element, cached), f.F32("key_cache"), GoldenTolerances.Attention.For(b));
        yield return CheckResult.Compare(f.Case, "value_cache", KvElements.Download(b, cache.Values, cache.Element, cached), f.F32("value_cache"), GoldenTolerances.Attention.For(b));
    }

    /// <summary>Tokens [first, first + count) of the case: their positions, cache indices first.. (the context after them is first + count).</summary>
    private static SequenceBatch Step(int[] positions, int first, int count)
        => new([0, count], positions.AsSpan(first, count), contextLengths: [first + count], blockTables: [0], maxPagesPerSequence: 1);

    private static int[] Positions(GoldenFile f, int count)
    {
        var positions = f.I64("position_ids").Concat(f.I64("decode_position_ids")).ToArray();
        if (positions.Length != count)
        {
            throw new CheckpointException($"position_ids and decode_position_ids hold {positions.Length} positions; T + N = {count}.", f.Path, "position_ids");
        }

        foreach (long p in positions)
        {
            if (p < 0 || p >= SequenceBatch.MaxPosition)
            {
                throw new CheckpointException($"position {p} is outside [0, {SequenceBatch.MaxPosition}).", f.Path, "position_ids");
            }
        }

        return positions.Select(p => (int)p).ToArray();
    }
}
