using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Graph;

/// <summary>Generator hands each token to its callback as soon as it is chosen: before the next forward pass, not at the end.</summary>
public sealed class TokenStreamingTests
{
    [Test]
    public void EachTokenIsReportedBeforeTheNextForwardPass()
    {
        using var checkpoint = QwenCheckpoint.Open(GoldenData.TinyModel);
        using var model = Qwen3NextModel.Load(TestBackends.Get("reference"), checkpoint);
        var events = new List<string>();
        var passes = new PassCounter(model.Layers.Count - 1, events);
        var result = Generator.Generate(model, [1, 2, 3, 4], 4, SamplingOptions.Greedy, prefillChunk: 2, onToken: id => events.Add($"token {id}"),
            observer: passes);
        var tokens = result.GeneratedIds.Select(id => $"token {id}").ToArray();
        Assert.That(events, Is.EqualTo(new[] { "pass", "pass", tokens[0], "pass", tokens[1], "pass", tokens[2], "pass", tokens[3] }));
    }

    /// <summary>Records "pass" when a forward pass finishes its last layer.</summary>
    private sealed class PassCounter(int lastLayer, List<string> events) : IForwardObserver
    {
        public bool WantsRouting => false;

        public void OnResidual(int layer, DeviceTensor hidden, int tokens)
        {
            if (layer == lastLayer)
            {
                events.Add("pass");
            }
        }

        public void OnRouting(int layer, MoeRouting routing)
        {
        }
    }
}
