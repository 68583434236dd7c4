using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Tests.Safety;

/// <summary>
/// NaN and ±Inf fed as activations into each op family on every backend that computes here (the GPU code paths on the
/// PTX emulator with its sanitizer, which faults any out-of-range access): no exception, no
/// out-of-range index, and documented propagation — the poisoned token's outputs are non-finite, the other tokens'
/// stay finite wherever the op keeps tokens apart (every op but attention and the delta rule's state, which carry
/// a token into the later ones). Routing selects experts 0..k−1 with NaN weights for a non-finite token.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.AllBackends))]
public sealed class NonFiniteActivationTests(string backendName)
{
    private const int H = OpInputs.Hidden, T = OpInputs.Rows;

    private OpInputs ops = null!;

    public static readonly float[] Poisons = [float.NaN, float.PositiveInfinity, float.NegativeInfinity];

    [OneTimeSetUp]
    public void Create() => ops = new OpInputs(TestBackends.Get(backendName));

    [OneTimeTearDown]
    public void Dispose() => ops?.Dispose();

    private IKernelBackend Backend => ops.Backend;

    [TestCaseSource(nameof(Poisons))]
    public void MatMulPoisonsOnlyItsRow(float poison)
    {
        var y = ops.Zeros(T * OpInputs.Out);
        Backend.Basic.MatMul(ops.Input(T * H, poison), ops.Weight, y, T);
        AssertRows(ops.Download(y), OpInputs.Out, poisonedRow: 0, wholeRow: true);
    }

    [TestCaseSource(nameof(Poisons))]
    public void RmsNormPoisonsOnlyItsRow(float poison)
    {
        var y = ops.Zeros(T * H);
        Backend.Basic.RmsNorm(ops.Input(T * H, poison, at: H + 5), ops.Norm, y, T, H, 1e-6f, zeroCentred: true);
        AssertRows(ops.Download(y), H, poisonedRow: 1, wholeRow: false);
    }

    [TestCaseSource(nameof(Poisons))]
    public void AddPoisonsOnlyItsElement(float poison)
    {
        var accumulator = ops.Input(100);
        Backend.Basic.Add(accumulator, ops.Input(100, poison, at: 42), 100);
        var values = ops.Download(accumulator);
        Assert.That(Enumerable.Range(0, 100).Where(i => !float.IsFinite(values[i])), Is.EqualTo(new[] { 42 }));
    }

    [TestCaseSource(nameof(Poisons))]
    public void EmbeddingOfAPoisonedRowIsNonFinite(float poison)
    {
        var bits = ops.Bits(OpInputs.Vocab * H, 1f);
        bits[(5 * H) + 3] = Bf16.FromFloat(poison);
        using var table = Backend.LoadWeight(TensorView.FromBf16("embed_tokens.weight", [OpInputs.Vocab, H], bits));
        var y = ops.Zeros(T * H);
        Backend.Basic.Embed([2, 5, 7], table, y);
        var values = ops.Download(y);
        Assert.That(Enumerable.Range(0, T * H).Where(i => !float.IsFinite(values[i])), Is.EqualTo(new[] { H + 3 }));
    }

    [Test]
    public void ArgmaxIgnoresNaNAndNeverLeavesTheRow()
    {
        const int cols = 40;
        var rows = new float[5][];
        rows[0] = Enumerable.Range(0, cols).Select(i => (float)i).ToArray();
        rows[0][39] = float.NaN; // NaN ignored: 38 is the largest number
        rows[1] = Enumerable.Repeat(float.NaN, cols).ToArray();
        rows[2] = Enumerable.Repeat(float.NegativeInfinity, cols).ToArray();
        rows[3] = Enumerable.Range(0, cols).Select(i => (float)-i).ToArray();
        rows[3][17] = float.PositiveInfinity;
        rows[4] = Enumerable.Repeat(float.NaN, cols).ToArray();
        rows[4][33] = float.NegativeInfinity;
        var result = new int[5];
        Backend.Basic.ArgmaxRows(ops.Upload(rows.SelectMany(r => r).ToArray()), 5, cols, result);
        Assert.That(result, Is.EqualTo(new[] { 38, 0, 0, 17, 0 }));
    }

    [Test]
    public void DeltaRulePropagatesNaNIntoOutputAndState([Values] GatedDeltaMode mode)
    {
        var s = OpInputs.Gdn.Rule(T);
        long qk = (long)T * s.KeyHeads * s.KeyDim, vo = (long)T * s.ValueHeads * s.ValueDim;
        var state = ops.Zeros((long)s.ValueHeads * s.KeyDim * s.ValueDim);
        var o = ops.Zeros(vo);
        Backend.GatedDelta.Rule(s, ops.Input(qk), ops.Input(qk), ops.Input(vo, float.NaN), ops.Input(T * s.ValueHeads, null), ops.Input(T * s.ValueHeads),
            state, o, l2Normalize: true, 0.25f, mode);
        Assert.That(ops.Download(o), Has.Some.NaN, "o");
        Assert.That(ops.Download(state), Has.Some.NaN, "state");
    }

    [TestCaseSource(nameof(Poisons))]
    public void GatedDeltaNetMixerPropagatesIntoOutputAndState(float poison)
    {
        var g = OpInputs.Gdn;
        var state = ops.GdnState();
        // Prefills shorter and longer than the conv kernel (4), then a decode step.
        foreach (int tokens in new[] { 3, 5, 1 })
        {
            var y = ops.Zeros(tokens * g.ValueWidth);
            Backend.GatedDelta.Mixer(g, tokens, ops.Input(tokens * g.QkvzWidth, poison), ops.Input(tokens * g.BaWidth), ops.GdnWeights, state, y);
            Assert.That(ops.Download(y).Any(v => !float.IsFinite(v)), $"y of {tokens} tokens");
        }

        Assert.That(ops.Download(state.Recurrent).Any(v => !float.IsFinite(v)) || ops.Download(state.Conv).Any(v => !float.IsFinite(v)), "state");
    }

    [TestCaseSource(nameof(Poisons))]
    public void AttentionPropagatesAPoisonedKeyToLaterTokens(float poison)
    {
        var a = OpInputs.Attention;
        var cache = ops.Cache(8);
        var y = ops.Zeros(T * a.OutputWidth);
        Backend.Attention.Mixer(a, T, ops.Input(T * a.QueryGateWidth), ops.Input(T * a.KeyValueWidth, poison), ops.Input(T * a.KeyValueWidth),
            ops.QNorm, ops.KNorm, cache, y);
        var decoded = ops.Zeros(a.OutputWidth);
        Backend.Attention.Mixer(a, 1, ops.Input(a.QueryGateWidth), ops.Input(a.KeyValueWidth), ops.Input(a.KeyValueWidth), ops.QNorm, ops.KNorm, cache, decoded);
        Assert.That(cache.Length, Is.EqualTo(T + 1));
        Assert.That(ops.Download(y).Any(v => !float.IsFinite(v)), "prefill output");
        Assert.That(ops.Download(decoded).Any(v => !float.IsFinite(v)), "the decode step attends to the poisoned key");
    }

    [TestCaseSource(nameof(Poisons))]
    public void MoeRoutesANonFiniteTokenToExpertsZeroToKAndKeepsTheOthersFinite(float poison)
    {
        var m = OpInputs.Moe;
        var routing = new MoeRouting(T, m);
        var y = ops.Zeros(T * H);
        Backend.Moe.Block(m, T, ops.Input(T * H, poison, at: H + 1), ops.MoeWeights, y, routing);
        Assert.That(routing.Selected, Is.All.InRange(0, m.Experts - 1));
        Assert.That(routing.Selected.Skip(m.TopK).Take(m.TopK), Is.EqualTo(Enumerable.Range(0, m.TopK)), "NaN ranks last, ties by id");
        Assert.That(routing.Weights.Skip(m.TopK).Take(m.TopK), Is.All.NaN);
        AssertRows(ops.Download(y), H, poisonedRow: 1, wholeRow: true);
    }

    /// <summary>Row <paramref name="poisonedRow"/> holds non-finite values (all of them when <paramref name="wholeRow"/>); every other row is finite.</summary>
    private static void AssertRows(float[] values, int width, int poisonedRow, bool wholeRow)
    {
        for (int r = 0; r < values.Length / width; r++)
        {
            var row = values.AsSpan(r * width, width).ToArray();
            if (r != poisonedRow)
            {
                Assert.That(row.All(float.IsFinite), $"row {r} stays finite");
            }
            else if (wholeRow)
            {
                Assert.That(row.All(v => !float.IsFinite(v)), $"every value of row {r} is non-finite");
            }
            else
            {
                Assert.That(row.Any(v => !float.IsFinite(v)), $"row {r} holds a non-finite value");
            }
        }
    }
}
