using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;
using Qwen3Next.Streaming;

namespace Qwen3Next.Cli;

/// <summary>Turns <c>--device-memory</c> into a residency plan and an expert cache on the backend.</summary>
internal static class StreamingSetup
{
    public static ExpertStreaming Enable(IKernelBackend backend, ModelConfig config, long budget, int maxTokens, int prefillChunk)
    {
        if (backend is not IlgpuBackend ilgpu)
        {
            throw new NotSupportedException($"--device-memory needs the ilgpu backend (weights of the {backend.Name} backend are not streamed).");
        }

        var plan = ResidencyPlan.Create(config, budget, maxTokens, prefillChunk);
        var streaming = ilgpu.EnableExpertStreaming(ModelShapes.From(config).Moe, plan.ExpertSlots);
        if (plan.StreamsLayers)
        {
            ilgpu.EnableLayerStreaming(plan.StageBytes / 2);
        }

        return streaming;
    }
}
