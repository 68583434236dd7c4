using NUnit.Framework;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Safety;

/// <summary>
/// One NaN or ±Inf (or a huge 3e38) in a router weight, an embedding row or a norm weight of the tiny checkpoint:
/// the executor stops with <see cref="NonFiniteValueException"/> naming the step — and, with activation checks, the
/// first layer whose output went non-finite — instead of returning garbage tokens; the session is then unusable.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.CpuBackends))]
public sealed class NonFiniteWeightTests(string backendName)
{
    /// <summary>Token 105 is at position 1 of the prompt; its embedding row is the one poisoned below.</summary>
    private static readonly int[] Prompt = [280, 105];

    /// <summary>Poison every element of the tensor, not one.</summary>
    private const int Every = -1;

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
        yield return new TestCaseData("model.layers.2.input_layernorm.weight", Every, 3e38f, 2).SetName("3e38 as layer 2's input norm weight");
    }

    [TestCaseSource(nameof(Poisoned))]
    public void ActivationChecksNameTheStepAndTheFirstLayer(string tensor, int element, float value, int layer)
    {
        using var checkpoint = QwenCheckpoint.Open(WritePoisonedCopy(tensor, element, value));
        using var model = Qwen3NextModel.Load(TestBackends.Get(backendName), checkpoint);
        model.CheckActivations = true;
        using var session = model.CreateSession(4);
        var e = Assert.Throws<NonFiniteValueException>(() => model.Forward(session, Prompt))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Step, Is.Zero);
            Assert.That(e.Layer, Is.EqualTo(layer));
            Assert.That(e.Message, Does.Contain("step 0").And.Contain(layer < 0 ? "after the embedding" : $"after layer {layer} ("));
        });
        Assert.That(() => model.Forward(session, [1]), Throws.InvalidOperationException.With.Message.Contains("unusable"), "a failed session stays failed");
    }

    [Test]
    public void LogitsAreCheckedOnEveryStepWithoutActivationChecks()
    {
        using var checkpoint = QwenCheckpoint.Open(WritePoisonedCopy("model.layers.1.mlp.gate.weight", 3, float.NaN));
        using var model = Qwen3NextModel.Load(TestBackends.Get(backendName), checkpoint);
        var e = Assert.Throws<NonFiniteValueException>(() => Generator.Generate(model, Prompt, 4, SamplingOptions.Greedy))!;
        Assert.That(e.Step, Is.Zero);
        Assert.That(e.Layer, Is.Null);
        Assert.That(e.Message, Does.Contain("step 0 (positions 0..1)").And.Contain("logits"));
    }

    [Test]
    public void TheWeightScanNamesThePoisonedTensor()
    {
        using var checkpoint = QwenCheckpoint.Open(WritePoisonedCopy("model.layers.1.mlp.gate.weight", 3, float.PositiveInfinity));
        var bad = NonFiniteWeights.Scan(checkpoint.Reader.Tensors.Values);
        Assert.That(bad.Select(b => (b.Name, b.Count, b.FirstIndex)), Is.EqualTo(new[] { ("model.layers.1.mlp.gate.weight", 1L, 3L) }));
        Assert.That(bad[0].FirstValue, Is.EqualTo(float.PositiveInfinity));
    }

    /// <summary>The tiny model with one bf16 element (or <see cref="Every"/> one) of <paramref name="tensor"/> replaced, in a folder of its own.</summary>
    private string WritePoisonedCopy(string tensor, int element, float value)
    {
        string folder = Path.Combine(temp.Path, $"{backendName}-{tensor}-{element}-{value}");
        Directory.CreateDirectory(folder);
        GoldenData.WriteTinyModelCopy(folder, tensors =>
        {
            var data = tensors.Single(t => t.Name == tensor).Data;
            for (int i = element == Every ? 0 : element; i < (element == Every ? data.Length / 2 : element + 1); i++)
            {
                BitConverter.TryWriteBytes(data.AsSpan(i * 2, 2), Bf16.FromFloat(value));
            }
        });
        return folder;
    }
}
