using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;
using Qwen3Next.Streaming;

namespace Qwen3Next.Cli;

/// <summary>Turns <c>--device-memory</c> into a residency plan and an expert cache on the backend, before any weight moves.</summary>
internal static class StreamingSetup
{
    /// <summary>The streaming set up on <paramref name="backend"/>, or null when the budget holds every expert (nothing streams).</summary>
    public static IExpertStreaming? Enable(IKernelBackend backend, ModelConfig config, long budget, int maxTokens, int prefillChunk, ExpertRoutingCounts? warm)
    {
        // The ptx backend keeps every non-expert weight resident: a budget below that is refused, never planned around.
        var shapes = ModelShapes.From(config);
        var plan = ResidencyPlan.Create(config, budget, maxTokens, prefillChunk, streamLayers: backend is IlgpuBackend, backend.KvCacheElement(shapes.Attention));
        var shape = shapes.Moe;
        warm?.RequireShape(config.NumHiddenLayers, config.NumExperts);
        switch (backend)
        {
            case IlgpuBackend ilgpu:
                if (warm is not null)
                {
                    throw new NotSupportedException("--warm-experts needs --backend ptx (the ILGPU backend's host-driven cache starts empty).");
                }

                var streaming = ilgpu.EnableExpertStreaming(shape, plan.ExpertSlots);
                if (plan.StreamsLayers)
                {
                    ilgpu.EnableLayerStreaming(plan.StageBytes / 2);
                }

                return streaming;
            case PtxBackend ptx:
                return plan.AllExpertsResident ? null : ptx.EnableExpertStreaming(shape, config.NumHiddenLayers, plan.ExpertSlots, warm);
            default:
                throw new NotSupportedException($"--device-memory needs the ilgpu or ptx backend (weights of the {backend.Name} backend are not streamed).");
        }
    }
}
