using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Checkpoint;
using Qwen3Next.Conformance;
using Qwen3Next.Cuda;
using Qwen3Next.Graph;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Tests.Graph;

/// <summary>
/// Creating a session on the emulated ptx backend reserves the working set of a decode step and of the prefill pass
/// (issue 11: an arena sized when the session is created): the first prefill pass and the first decode step make no
/// allocation or free, the tokens stay the golden ones (sanitizer on: nothing reads memory the sizing pass left
/// unwritten), and a budget below the working set is refused when the session is created, naming the bytes.
/// </summary>
public sealed class PtxSessionReservationTests
{
    private static string Folder => Path.Combine(TestBackends.DataRoot, "models", "tiny-qwen3-next");

    [Test]
    public void TheFirstPrefillAndDecodeStepAllocateNothing()
    {
        using var golden = GoldenFile.Open(Path.Combine(Folder, ConformanceRunner.ModelGoldenFile));
        var prompt = golden.I64("input_ids").Select(v => (int)v).ToArray();
        var goldenTokens = golden.I64("greedy_tokens").Select(v => (int)v).ToArray();
        using var checkpoint = QwenCheckpoint.Open(Folder);
        using var backend = PtxBackend.CreateEmulated();
        using var model = Qwen3NextModel.Load(backend, checkpoint);

        var before = backend.DriverCounters.Snapshot();
        using var session = model.CreateSession(prompt.Length + 2, prefillTokens: prompt.Length);
        var create = backend.DriverCounters.Since(before);
        Assert.That((create.Launches, create.Copies(CopyDirection.DeviceToHost)), Is.EqualTo((0L, 0L)), "the sizing passes run no kernel and read nothing back");

        before = backend.DriverCounters.Snapshot();
        int first = ArgmaxReference.Row(model.Forward(session, prompt));
        var prefill = backend.DriverCounters.Since(before);
        before = backend.DriverCounters.Snapshot();
        int second = ArgmaxReference.Row(model.Forward(session, [first]));
        var decode = backend.DriverCounters.Since(before);

        Assert.That(new[] { first, second }, Is.EqualTo(goldenTokens.Take(2)));
        Assert.That((prefill.Allocations, prefill.Frees), Is.EqualTo((0L, 0L)), "the prefill pass");
        Assert.That((decode.Allocations, decode.Frees), Is.EqualTo((0L, 0L)), "the first decode step");
    }

    [Test]
    public void ABatchReservesADecodeStepOfEverySequence()
    {
        using var checkpoint = QwenCheckpoint.Open(Folder);
        using var backend = PtxBackend.CreateEmulated();
        using var model = Qwen3NextModel.Load(backend, checkpoint);
        using var batch = model.CreateBatch(new BatchOptions(MaxSequences: 2, MaxTokensPerSequence: 8, PageSize: 4));
        var (a, b) = (batch.Add(), batch.Add());

        var before = backend.DriverCounters.Snapshot();
        var outputs = batch.Step([new SequenceStep(a, new[] { 5 }), new SequenceStep(b, new[] { 17 })]);
        var step = backend.DriverCounters.Since(before);

        Assert.That(outputs.Select(o => o.Fault), Has.All.Null);
        Assert.That((step.Allocations, step.Frees), Is.EqualTo((0L, 0L)), "the first step of both sequences");
    }

    [Test]
    public void ABudgetBelowTheWorkingSetIsRefusedWhenTheSessionIsCreated()
    {
        using var checkpoint = QwenCheckpoint.Open(Folder);
        using var backend = PtxBackend.CreateEmulated();
        using var model = Qwen3NextModel.Load(backend, checkpoint);
        backend.WorkingSetBudgetBytes = 4096;

        var refused = Assert.Throws<WorkingSetBudgetException>(() => model.CreateSession(64, prefillTokens: 32))!;
        Assert.That(refused.Message, Does.Contain($"needs {refused.NeededBytes:N0} bytes of activations and workspaces")
            .And.Contain("more than the 4,096 bytes").And.Contain("a forward pass of 32 tokens"));
        Assert.That((refused.BudgetBytes, model.OpenSessions), Is.EqualTo((4096L, 0)));

        // Exactly the bytes it named are enough.
        backend.WorkingSetBudgetBytes = refused.NeededBytes;
        using var session = model.CreateSession(64, prefillTokens: 32);
        Assert.That(model.OpenSessions, Is.EqualTo(1));
    }
}
