using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Graph;

/// <summary>The op shapes of every block, derived once from the config.</summary>
public sealed record ModelShapes(GatedDeltaNetShape Linear, GatedAttentionShape Attention, MoeShape Moe, float Eps)
{
    public static ModelShapes From(ModelConfig c)
    {
        float eps = (float)c.RmsNormEps;
        return new ModelShapes(
            new GatedDeltaNetShape(c.HiddenSize, c.LinearNumKeyHeads, c.LinearNumValueHeads, c.LinearKeyHeadDim, c.LinearValueHeadDim, c.LinearConvKernelDim, eps),
            new GatedAttentionShape(c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, c.RotaryDim, (float)c.RopeTheta, eps),
            new MoeShape(c.HiddenSize, c.NumExperts, c.NumExpertsPerTok, c.MoeIntermediateSize, c.SharedExpertIntermediateSize, c.NormTopkProb),
            eps);
    }
}
