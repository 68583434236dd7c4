using NUnit.Framework;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Safety;

/// <summary>
/// One NaN or +Inf in a router weight, an embedding row or a norm weight of the tiny checkpoint, on every backend
/// that computes here: with activation checks the executor stops with <see cref="NonFiniteValueException"/> naming the
/// step and the first layer whose output went non-finite (the pass stops there, so these are cheap), instead of
/// returning garbage tokens; the session is then unusable.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.SessionBackends))]
public sealed class NonFiniteWeightTests(string backendName)
{
    /// <summary>Token 105 is at position 1; its embedding row is the one poisoned.</summary>
    internal static readonly int[] Prompt = [280, 105, 145, 195, 83];

    private TempFolder temp = null!;

    [OneTimeSetUp]
    public void Create() => temp = new TempFolder();

    [OneTimeTearDown]
    public void Delete() => temp?.Dispose();

    public static IEnumerable<TestCaseData> Poisoned()
    {
        yield return new TestCaseData("model.embed_tokens.weight", (105 * 128) + 7, float.NaN, -1).SetName("NaN in the embedding row of a prompt token");
        yield return new TestCaseData("model.layers.1.mlp.gate.weight", 3, float.NaN, 1).SetName("NaN in layer 1's router weight");
        yield return new TestCaseData("model.layers.2.input_layernorm.weight", 0, float.PositiveInfinity, 2).SetName("+Inf in layer 2's input norm weight");
    }

    [TestCaseSource(nameof(Poisoned))]
    public void ActivationChecksNameTheStepAndTheFirstLayer(string tensor, int element, float value, int layer)
        => AssertStopsAtLayer(backendName, PoisonedCheckpoint.Write(temp.Path, tensor, element, value), layer);

    internal static void AssertStopsAtLayer(string backend, string folder, int layer)
    {
        using var checkpoint = QwenCheckpoint.Open(folder);
        using var model = Qwen3NextModel.Load(TestBackends.Get(backend), checkpoint);
        model.CheckActivations = true;
        using var session = model.CreateSession(Prompt.Length + 1);
        var e = Assert.Throws<NonFiniteValueException>(() => model.Forward(session, Prompt))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Step, Is.Zero);
            Assert.That(e.Layer, Is.EqualTo(layer));
            Assert.That(e.Message, Does.Contain("step 0").And.Contain(layer < 0 ? "after the embedding" : $"after layer {layer} ("));
        });
        Assert.That(() => model.Forward(session, [1]), Throws.InvalidOperationException.With.Message.Contains("unusable"), "a failed session stays failed");
    }
}

/// <summary>The host-side checks that are the same on every backend, on the reference: the logits check that is always
/// on, a huge (finite) norm weight that overflows, and the checkpoint scan behind <c>inspect --check</c>.</summary>
public sealed class NonFiniteLogitTests
{
    [Test]
    public void LogitsAreCheckedOnEveryStepWithoutActivationChecks()
    {
        using var temp = new TempFolder();
        using var checkpoint = QwenCheckpoint.Open(PoisonedCheckpoint.Write(temp.Path, "model.layers.1.mlp.gate.weight", 3, float.NaN));
        using var model = Qwen3NextModel.Load(TestBackends.Get("reference"), checkpoint);
        var e = Assert.Throws<NonFiniteValueException>(() => Generator.Generate(model, NonFiniteWeightTests.Prompt, 4, SamplingOptions.Greedy))!;
        Assert.That(e.Step, Is.Zero);
        Assert.That(e.Layer, Is.Null);
        Assert.That(e.Message, Does.Contain("step 0 (positions 0..4)").And.Contain("logits"));
    }

    [Test]
    public void A3e38NormWeightOverflowsInThatLayer()
    {
        using var temp = new TempFolder();
        NonFiniteWeightTests.AssertStopsAtLayer("reference",
            PoisonedCheckpoint.Write(temp.Path, "model.layers.2.input_layernorm.weight", PoisonedCheckpoint.Every, 3e38f), 2);
    }

    [Test]
    public void TheWeightScanNamesThePoisonedTensor()
    {
        using var temp = new TempFolder();
        using var checkpoint = QwenCheckpoint.Open(PoisonedCheckpoint.Write(temp.Path, "model.layers.1.mlp.gate.weight", 3, float.PositiveInfinity));
        var bad = NonFiniteWeights.Scan(checkpoint.Reader.Tensors.Values);
        Assert.That(bad.Select(b => (b.Name, b.Count, b.FirstIndex)), Is.EqualTo(new[] { ("model.layers.1.mlp.gate.weight", 1L, 3L) }));
        Assert.That(bad[0].FirstValue, Is.EqualTo(float.PositiveInfinity));
    }
}
