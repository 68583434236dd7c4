using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using Qwen3Next.Ops.Moe;

namespace Qwen3Next.Benchmarks;

/// <summary>
/// The prefill's grouped expert GEMMs alone, for the H200 model at long prompts: a routing drawn on the host (each
/// token picks k distinct experts uniformly, as a trained router spreads load) is uploaded, and each run does what the
/// MoE block does after its router — (fast precision) the bf16 cast of x, the permute, then the gate/up and down
/// grouped GEMMs. Profiling the whole block at 32K tokens is impractical on the emulator: CTA sampling leaves the
/// router's logits unwritten, so routing (and with it the GEMMs' tiles) would not be typical.
/// </summary>
internal static class ExpertGemmWorkload
{
    public const string Name = "moe-experts-prefill";

    public static OpWorkload Create(PtxBackend b, MoeShape m, int tokens, int seed)
    {
        var random = new Random(seed);
        var owned = new List<IDisposable>();
        var experts = b.LoadExperts(m, Enumerable.Range(0, m.Experts).Select(e => new ExpertTensors(
            RandomWeights.Matrix($"e{e}.g", m.ExpertIntermediate, m.Hidden, random), RandomWeights.Matrix($"e{e}.u", m.ExpertIntermediate, m.Hidden, random),
            RandomWeights.Matrix($"e{e}.d", m.Hidden, m.ExpertIntermediate, random))).ToArray());
        owned.Add(experts);
        long pairs = (long)tokens * m.TopK;
        var selection = new int[pairs];
        var pick = Enumerable.Range(0, m.Experts).ToArray();
        for (int t = 0; t < tokens; t++)
        {
            // The first k of a partial Fisher-Yates shuffle: k distinct experts, uniformly.
            for (int j = 0; j < m.TopK; j++)
            {
                int r = j + random.Next(m.Experts - j);
                (pick[j], pick[r]) = (pick[r], pick[j]);
                selection[(t * m.TopK) + j] = pick[j];
            }
        }

        var x = b.Upload(Enumerable.Range(0, tokens * m.Hidden).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray());
        owned.Add(x);
        var selected = b.AllocateBuffer<int>(pairs, "selected experts");
        owned.Add(selected);
        b.CopyToDevice<int>(selection, selected.Span.Slice(0, pairs));
        var rows = b.AllocateBuffer<float>(pairs * m.Hidden, "expert rows");
        owned.Add(rows);
        var xb = b.AllocateBuffer<ushort>((long)tokens * m.Hidden, "x in bf16");
        owned.Add(xb);
        var weights = (PtxExpertWeights)experts;
        bool fast = b.PtxBasic.TensorCores && m.Hidden % 8 == 0 && m.ExpertIntermediate % 8 == 0;
        var ops = (PtxMoeOps)b.Moe;
        long touched = Math.Min(m.Experts, pairs);
        long bytes = (touched * 6L * m.ExpertIntermediate * m.Hidden) + (4L * tokens * m.Hidden) + (4L * pairs * m.Hidden);
        long flops = 6L * pairs * m.ExpertIntermediate * m.Hidden;
        return new OpWorkload(Name, $"T={tokens} E={m.Experts} k={m.TopK} H={m.Hidden} I={m.ExpertIntermediate} (uniform routing)", bytes, flops, () =>
        {
            using var use = b.Access.Enter();
            DeviceSpan<float> xView = PtxBackend.T(x).Span;
            if (fast)
            {
                b.PtxBasic.CastToBf16(xView, xb.Span, (long)tokens * m.Hidden);
            }

            ops.GroupedExperts(weights, tokens, m.TopK, fast, xView, xb.Span, selected.Span, rows.Span);
        }, owned);
    }
}
