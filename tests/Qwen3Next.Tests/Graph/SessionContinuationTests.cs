using NUnit.Framework;
using Qwen3Next.Checkpoint;
using Qwen3Next.Conformance;
using Qwen3Next.Graph;

namespace Qwen3Next.Tests.Graph;

/// <summary>
/// The cached states are exact continuations: prefill-then-decode equals one longer prefill, a multi-token
/// continuation equals single-token steps, and a chunked prefill equals one prefill. Run on the tiny model on
/// <see cref="TestBackends.SessionBackends"/>; tolerance: the golden model-logits tolerance.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.SessionBackends))]
public sealed class SessionContinuationTests(string backendName)
{
    private static readonly int[] Tokens = Enumerable.Range(0, 30).Select(i => ((i * 37) + 11) % 512).ToArray();
    private QwenCheckpoint? checkpoint;
    private Qwen3NextModel? model;

    [OneTimeSetUp]
    public void Load()
    {
        checkpoint = QwenCheckpoint.Open(Path.Combine(TestBackends.DataRoot, "models", "tiny-qwen3-next"));
        model = Qwen3NextModel.Load(TestBackends.Get(backendName), checkpoint);
    }

    [OneTimeTearDown]
    public void Unload()
    {
        model?.Dispose();
        checkpoint?.Dispose();
    }

    private int Vocab => model!.Config.VocabSize;

    [Test]
    public void PrefillThenDecodeMatchesOneLongerPrefill()
    {
        using var whole = model!.CreateSession(Tokens.Length);
        var expected = model.Forward(whole, Tokens, allLogits: true);

        using var session = model.CreateSession(Tokens.Length);
        var prefill = model.Forward(session, Tokens.AsSpan(0, 20), allLogits: true);
        var decoded = new List<float>(prefill);
        for (int t = 20; t < Tokens.Length; t++)
        {
            decoded.AddRange(model.Forward(session, Tokens.AsSpan(t, 1)));
        }

        AssertLogits([.. decoded], expected);
    }

    [Test]
    public void MultiTokenContinuationMatchesSingleSteps()
    {
        using var stepwise = model!.CreateSession(Tokens.Length);
        model.Forward(stepwise, Tokens.AsSpan(0, 12));
        var expected = new List<float>();
        for (int t = 12; t < Tokens.Length; t++)
        {
            expected.AddRange(model.Forward(stepwise, Tokens.AsSpan(t, 1)));
        }

        using var session = model.CreateSession(Tokens.Length);
        model.Forward(session, Tokens.AsSpan(0, 12));
        var continued = model.Forward(session, Tokens.AsSpan(12), allLogits: true);
        AssertLogits(continued, [.. expected]);
    }

    [Test]
    public void ChunkedPrefillMatchesOnePrefill()
    {
        var greedy = Generator.Generate(model!, Tokens, 4, SamplingOptions.Greedy);
        var chunked = Generator.Generate(model!, Tokens, 4, SamplingOptions.Greedy, prefillChunk: 7);
        Assert.That(chunked.GeneratedIds, Is.EqualTo(greedy.GeneratedIds));
    }

    [Test]
    public void SessionRefusesTokensPastItsCapacity()
    {
        using var session = model!.CreateSession(4);
        Assert.That(() => model.Forward(session, Tokens.AsSpan(0, 5)), Throws.InvalidOperationException.With.Message.Contains("holds 4 tokens"));
        Assert.That(session.Position, Is.Zero);
    }

    private void AssertLogits(float[] actual, float[] expected)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        var r = CheckResult.Compare("tiny", "logits", actual, expected, GoldenTolerances.ModelLogits);
        Assert.That(r.Passed, Is.True, $"max abs {r.MaxAbsError:E2} over {actual.Length / Vocab} positions");
    }
}
