using NUnit.Framework;
using Qwen3Next.Checkpoint;
using Qwen3Next.Conformance;
using Qwen3Next.Graph;

namespace Qwen3Next.Tests.Conformance;

/// <summary>
/// The same ILGPU kernels two ways: as C# IL on ILGPU's CPU accelerator (exact math, one-warp groups) and as the PTX
/// ILGPU emits for CUDA on the emulator (fast math, CUDA group sizes). Both must give the model's logits within the
/// golden model tolerance of each other and the same greedy token at every position.
/// </summary>
public sealed class IlgpuEmulatedVsCpuTests
{
    private const float LogitTolerance = 5e-4f;

    [Test]
    public void TinyModelPrefillLogitsAgree()
    {
        string folder = Path.Combine(TestBackends.DataRoot, "models", "tiny-qwen3-next");
        using var checkpoint = QwenCheckpoint.Open(folder);
        using var golden = GoldenFile.Open(Path.Combine(folder, ConformanceRunner.ModelGoldenFile));
        var prompt = golden.I64("input_ids").Select(v => (int)v).ToArray();
        float[] Logits(string backend)
        {
            using var model = Qwen3NextModel.Load(TestBackends.Get(backend), checkpoint);
            using var session = model.CreateSession(prompt.Length);
            return model.Forward(session, prompt, allLogits: true);
        }

        var cpu = Logits("ilgpu-cpu");
        var emulated = Logits("ilgpu-emu");
        int vocab = checkpoint.Config.VocabSize;
        float worst = cpu.Zip(emulated, (a, b) => Math.Abs(a - b)).Max();
        TestContext.Out.WriteLine($"max |ilgpu-cpu - ilgpu-emu| = {worst:E2} over {prompt.Length} positions");
        Assert.That(worst, Is.LessThanOrEqualTo(LogitTolerance));
        for (int t = 0; t < prompt.Length; t++)
        {
            Assert.That(ArgMax(emulated.AsSpan(t * vocab, vocab)), Is.EqualTo(ArgMax(cpu.AsSpan(t * vocab, vocab))), $"position {t}");
        }
    }

    private static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++)
        {
            if (row[i] > row[best])
            {
                best = i;
            }
        }

        return best;
    }
}
