using System.Text.Json;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Streaming;

/// <summary>
/// Modeled H200 times of the ptx backend's decode op workloads at the real Qwen3-Next shapes (<c>kernels profile
/// --backend ptx-emu --scale real --sample-ctas 0 --json</c>): what <see cref="DecodeTimeModel"/> composes a decode step from.
/// A MODEL from emulator counters (docs/h200-model.md), not a measurement.
/// </summary>
/// <param name="MatMulDecode">µs of the decode GEMV workload <c>[1×2048]·[12288×2048]ᵀ</c>.</param>
/// <param name="MatMulDecodeWeightBytes">Its weight bytes (every other projection is scaled by weight bytes).</param>
/// <param name="GatedDeltaDecode">µs of the Gated DeltaNet decode core (conv step, gates, recurrent update, gated norm).</param>
/// <param name="AttentionDecode">µs of the attention decode core at <paramref name="AttentionContext"/> cached tokens.</param>
/// <param name="MoeDecode">µs of the whole decode MoE block (three kernels) of one layer.</param>
/// <param name="LaunchFloor">µs the model gives a launch that does almost nothing (norms, residual adds at T = 1).</param>
public sealed record DecodeKernelTimes(double MatMulDecode, long MatMulDecodeWeightBytes, double GatedDeltaDecode, double AttentionDecode,
    int AttentionContext, double MoeDecode, double LaunchFloor)
{
    /// <summary>The resource compiled in from <c>docs/h200-decode-profile.json</c>.</summary>
    public const string ResourceName = "h200-decode-profile.json";

    public static DecodeKernelTimes Embedded
    {
        get
        {
            using var stream = typeof(DecodeKernelTimes).Assembly.GetManifestResourceStream(ResourceName)
                ?? throw new InvalidOperationException($"The runtime was built without {ResourceName}.");
            using var reader = new StreamReader(stream);
            return FromProfileJson(reader.ReadToEnd(), ResourceName);
        }
    }

    /// <summary>Reads a <c>kernels profile --json</c> report that has the decode workloads at real scale.</summary>
    public static DecodeKernelTimes FromProfileJson(string json, string source)
    {
        var ops = new Dictionary<string, double>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(json);
            foreach (var op in doc.RootElement.GetProperty("ops").EnumerateArray())
            {
                string label = op.GetProperty("op").GetString() ?? "";
                ops[label.Split(' ')[0]] = op.GetProperty("modeledUs").GetDouble();
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException($"{source} is not a `kernels profile --json` report: {e.Message}", e);
        }

        double Op(string name) => ops.TryGetValue(name, out double us) ? us
            : throw new FormatException($"{source} has no '{name}' workload; profile it with --ops matmul-decode gdn-decode attention-decode moe-decode --scale real.");
        return new DecodeKernelTimes(Op("matmul-decode"), 2L * 12288 * 2048, Op("gdn-decode"), Op("attention-decode"), 4096, Op("moe-decode"), 2.5);
    }
}

/// <summary>One decode step's modeled time by part, in seconds.</summary>
public sealed record DecodeStepTime(double Projections, double Mixers, double Moe, double NormsAndAdds, double Head)
{
    public double Total => Projections + Mixers + Moe + NormsAndAdds + Head;
}

/// <summary>
/// A decode step (one token) of the ptx backend composed kernel by kernel from <see cref="DecodeKernelTimes"/>: every
/// projection GEMV scaled by its weight bytes from the modeled decode GEMV (at least a launch), the Gated DeltaNet and
/// attention cores, the three-kernel MoE block per layer, two norms and the mixer's residual add per layer, the final
/// norm and lm_head. It is what the kernels as they are would take on an H200 by the model, copies aside.
/// </summary>
public static class DecodeTimeModel
{
    public static DecodeStepTime Estimate(ModelConfig c, DecodeKernelTimes t)
    {
        double perByte = t.MatMulDecode / t.MatMulDecodeWeightBytes;
        double Gemv(long rows, long cols) => Math.Max(t.LaunchFloor, 2.0 * rows * cols * perByte);
        int h = c.HiddenSize;
        int linear = c.LayerTypes.Count(k => k == LayerKind.LinearAttention), full = c.NumHiddenLayers - linear;
        long hk = c.LinearNumKeyHeads, hv = c.LinearNumValueHeads, dk = c.LinearKeyHeadDim, dv = c.LinearValueHeadDim;
        long qkvz = hk * ((2 * dk) + (2 * (hv / hk) * dv));
        double linearProjections = Gemv(qkvz, h) + Gemv(2 * hv, h) + Gemv(h, hv * dv);
        long hq = c.NumAttentionHeads, hkv = c.NumKeyValueHeads, d = c.HeadDim;
        double attentionProjections = Gemv(2 * hq * d, h) + (2 * Gemv(hkv * d, h)) + Gemv(h, hq * d);
        const double Us = 1e-6;
        return new DecodeStepTime(
            Projections: ((linear * linearProjections) + (full * attentionProjections)) * Us,
            Mixers: ((linear * t.GatedDeltaDecode) + (full * t.AttentionDecode)) * Us,
            Moe: c.NumHiddenLayers * t.MoeDecode * Us,
            NormsAndAdds: ((3.0 * c.NumHiddenLayers) + 1) * t.LaunchFloor * Us,
            Head: Gemv(c.VocabSize, h) * Us);
    }
}
