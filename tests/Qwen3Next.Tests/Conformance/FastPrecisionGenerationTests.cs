using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Checkpoint;
using Qwen3Next.Conformance;
using Qwen3Next.Conformance.Cases;
using Qwen3Next.Graph;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Conformance;

/// <summary>
/// The fast precision on the tiny model, generating freely (its own greedy tokens fed back, unlike the golden case,
/// which feeds the golden tokens): at every generated step its token is among the exact path's top 5 and the exact
/// path's token among its top 5 — the exact path (the fp32 reference) run over the same sequence, so both see the
/// same prefix at every step.
/// </summary>
public sealed class FastPrecisionGenerationTests
{
    private const int Steps = 8;

    [Test]
    public void EveryGeneratedTokenIsAmongTheExactPathsTop5AndTheReverse()
    {
        var fast = (PtxBackend)TestBackends.Get(TestBackends.PtxEmuFast);
        if (!fast.HasSm90aKernels)
        {
            Assert.Ignore("No sm_90a kernels embedded (CUDA 12.4 was not found at build time): fast precision runs the exact kernels.");
        }

        using var checkpoint = QwenCheckpoint.Open(GoldenData.TinyModel);
        using var golden = GoldenFile.Open(Path.Combine(GoldenData.TinyModel, ConformanceRunner.ModelGoldenFile));
        var prompt = golden.I64("input_ids").Select(v => (int)v).ToArray();
        int vocab = checkpoint.Config.VocabSize;

        var fastLogits = new float[Steps * vocab];
        var tokens = new List<int>(prompt);
        using (var model = Qwen3NextModel.Load(fast, checkpoint))
        using (var session = model.CreateSession(prompt.Length + Steps))
        {
            var logits = model.Forward(session, prompt);
            for (int step = 0; step < Steps; step++)
            {
                logits.CopyTo(fastLogits, step * vocab);
                tokens.Add(ArgmaxReference.Row(logits));
                if (step + 1 < Steps)
                {
                    logits = model.Forward(session, [tokens[^1]]);
                }
            }
        }

        var exactLogits = new float[Steps * vocab];
        using (var model = Qwen3NextModel.Load(TestBackends.Get("reference"), checkpoint))
        using (var session = model.CreateSession(tokens.Count))
        {
            var all = model.Forward(session, tokens.Take(prompt.Length + Steps - 1).ToArray(), allLogits: true);
            all.AsSpan((prompt.Length - 1) * vocab, Steps * vocab).CopyTo(exactLogits);
        }

        TestContext.Out.WriteLine($"fast tokens: [{string.Join(',', tokens.Skip(prompt.Length))}]");
        var check = CheckResult.MutualTopK("tiny-qwen3-next", "free-running fast generation", fastLogits, exactLogits, vocab, FullModelCase.FastTopK);
        Assert.That(check.Passed, Is.True, check.Detail);
    }
}
