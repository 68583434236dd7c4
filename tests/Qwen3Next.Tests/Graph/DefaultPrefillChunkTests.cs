using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Reference;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;
using Qwen3Next.Streaming;

namespace Qwen3Next.Tests.Graph;

/// <summary>
/// Prefill is chunked by default (<see cref="Generator.DefaultPrefillChunk"/>), so activations are bounded by the
/// chunk, not the prompt; and a budget that cannot hold a prefill chunk's working set is refused with the chunk named.
/// </summary>
public sealed class DefaultPrefillChunkTests
{
    private sealed class PassCounter : IForwardObserver
    {
        public List<int> PassTokens { get; } = [];

        public bool WantsRouting => false;

        public void OnResidual(int layer, DeviceTensor hidden, int tokens)
        {
            if (layer < 0)
            {
                PassTokens.Add(tokens);
            }
        }

        public void OnRouting(int layer, MoeRouting routing)
        {
        }
    }

    [Test]
    public void APromptLongerThanTheDefaultChunkIsPrefilledInChunks()
    {
        using var checkpoint = QwenCheckpoint.Open(Path.Combine(TestBackends.DataRoot, "models", "tiny-qwen3-next"));
        using var backend = new ReferenceBackend();
        using var model = Qwen3NextModel.Load(backend, checkpoint);
        var prompt = Enumerable.Range(0, Generator.DefaultPrefillChunk + 9).Select(i => (i * 37) % checkpoint.Config.VocabSize).ToArray();
        var passes = new PassCounter();
        Generator.Generate(model, prompt, 2, SamplingOptions.Greedy, observer: passes);
        Assert.That(passes.PassTokens, Is.EqualTo(new[] { Generator.DefaultPrefillChunk, 9, 1 }));
    }

    [Test]
    public void ABudgetThatCannotHoldThePrefillChunkNamesIt()
    {
        var real = ModelConfig.Parse(Checkpoint.PublishedConfig.Json, "published config");
        Assert.That(() => ResidencyPlan.Create(real, ByteSize.Parse("8GiB"), maxTokens: 8192, prefillChunk: 4096, streamLayers: false),
            Throws.TypeOf<InsufficientDeviceMemoryException>().With.Message.Contains("a prefill chunk of 4096 tokens").And.Message.Contains("--prefill-chunk"));
        Assert.That(() => ResidencyPlan.Create(real, ByteSize.Parse("4GiB"), maxTokens: 8192, prefillChunk: 1, streamLayers: false),
            Throws.TypeOf<InsufficientDeviceMemoryException>().With.Message.Not.Contains("--prefill-chunk"), "a one-token chunk is not the problem");
    }
}
