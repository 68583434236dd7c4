using NUnit.Framework;
using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Checkpoint;
using Qwen3Next.Device;
using Qwen3Next.Graph;
using Qwen3Next.Streaming;

namespace Qwen3Next.Tests.Streaming;

/// <summary>
/// The tiny model on the ILGPU CPU accelerator with every expert resident and with an expert cache so small
/// that every layer evicts: logits and tokens must be identical (same kernels, same data, only the slots
/// differ), and the statistics must add up.
/// </summary>
public sealed class ExpertStreamingTests
{
    private static readonly int[] Prompt = Enumerable.Range(0, 24).Select(i => ((i * 53) + 7) % 512).ToArray();

    private static (float[] Logits, int[] Tokens, StreamingStatistics? Stats, long ExpertBytes) Generate(int? slots, bool streamLayers = false)
    {
        using var checkpoint = QwenCheckpoint.Open(Path.Combine(TestBackends.DataRoot, "models", "tiny-qwen3-next"));
        using var backend = IlgpuBackend.Create(DeviceKind.Cpu);
        var shapes = ModelShapes.From(checkpoint.Config);
        var streaming = slots is { } n ? backend.EnableExpertStreaming(shapes.Moe, n) : null;
        if (streamLayers)
        {
            backend.EnableLayerStreaming(WeightInventory.From(checkpoint.Config).LayerBytes.Max() / 2);
        }

        using var model = Qwen3NextModel.Load(backend, checkpoint);
        streaming?.Statistics.Reset();
        using var session = model.CreateSession(Prompt.Length + 4);
        var logits = model.Forward(session, Prompt, allLogits: true);
        var result = Generator.Generate(model, Prompt, 4, SamplingOptions.Greedy);
        return (logits, result.GeneratedIds, streaming?.Statistics, streaming?.Store.ExpertBytes ?? 0);
    }

    [Test]
    public void EvictingEveryStepGivesIdenticalOutput()
    {
        var resident = Generate(slots: null);
        var streamed = Generate(slots: 32);
        Assert.That(streamed.Logits, Is.EqualTo(resident.Logits), "bit-identical logits");
        Assert.That(streamed.Tokens, Is.EqualTo(resident.Tokens));

        var s = streamed.Stats!;
        Assert.That(s.Evictions, Is.GreaterThan(0), "32 slots for 8 layers x 32 experts must evict");
        Assert.That(s.ExpertBytesCopied, Is.EqualTo(s.ExpertMisses * streamed.ExpertBytes));
        Assert.That(s.HostToDeviceBytes, Is.EqualTo((s.ExpertMisses * streamed.ExpertBytes) + s.PrefetchedBytes));
        Assert.That(s.ExpertHits + s.ExpertMisses, Is.GreaterThan(0));
    }

    [Test]
    public void StreamingLayerWeightsToo()
    {
        var resident = Generate(slots: null);
        var streamed = Generate(slots: 32, streamLayers: true);
        Assert.That(streamed.Logits, Is.EqualTo(resident.Logits), "bit-identical logits");
        Assert.That(streamed.Tokens, Is.EqualTo(resident.Tokens));

        var s = streamed.Stats!;
        Assert.That(s.PrefetchedBytes, Is.GreaterThan(0));
        Assert.That(s.HostToDeviceBytes, Is.EqualTo((s.ExpertMisses * streamed.ExpertBytes) + s.PrefetchedBytes));
    }

    [Test]
    public void ACacheSmallerThanTopKIsRefused()
    {
        using var backend = IlgpuBackend.Create(DeviceKind.Cpu);
        var shape = new Qwen3Next.Backends.MoeShape(128, 32, 10, 32, 64, true);
        var streaming = backend.EnableExpertStreaming(shape, 4);
        Assert.That(() => streaming.Cache, Throws.ArgumentException.With.Message.Contains("top-k"));
    }
}
