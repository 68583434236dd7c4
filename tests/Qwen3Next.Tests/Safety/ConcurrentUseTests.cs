using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Safety;

/// <summary>
/// The threading rule, with real threads: sessions on one loaded model may generate from any number of threads and
/// get exactly what they get alone (forward passes take turns on the backend's gate); direct op calls that overlap
/// another thread's call fail with <see cref="InvalidOperationException"/> and leave the backend working.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.CpuBackends))]
public sealed class ConcurrentUseTests(string backendName)
{
    private static readonly int[] PromptA = [280, 105, 145];
    private static readonly int[] PromptB = [7, 300];
    private static readonly SamplingOptions Sampled = new(Temperature: 0.8f, TopP: 0.9f, Seed: 3);

    private QwenCheckpoint checkpoint = null!;
    private Qwen3NextModel model = null!;

    private IKernelBackend Backend => model.Backend;

    [OneTimeSetUp]
    public void Load()
    {
        checkpoint = QwenCheckpoint.Open(GoldenData.TinyModel);
        model = Qwen3NextModel.Load(TestBackends.Get(backendName), checkpoint);
    }

    [OneTimeTearDown]
    public void Unload()
    {
        model?.Dispose();
        checkpoint?.Dispose();
    }

    /// <summary>ILGPU's CPU accelerator takes over a second per forward pass of the tiny model: there, thread A runs a
    /// prefill and a decode step and thread B one prefill, which may land between them; the reference runs more.</summary>
    [Test]
    public void TwoThreadsGeneratingOnOneModelGetWhatEachGetsAlone()
    {
        bool quick = backendName != "reference";
        int tokensA = quick ? 2 : 4, tokensB = quick ? 1 : 4, rounds = quick ? 1 : 3;
        var aloneA = Generator.Generate(model, PromptA, tokensA, SamplingOptions.Greedy).GeneratedIds;
        var aloneB = Generator.Generate(model, PromptB, tokensB, Sampled).GeneratedIds;

        using var start = new Barrier(2);
        int[][] Run(int[] prompt, int newTokens, SamplingOptions sampling)
        {
            start.SignalAndWait();
            return Enumerable.Range(0, rounds).Select(_ => Generator.Generate(model, prompt, newTokens, sampling).GeneratedIds).ToArray();
        }

        var (a, b) = RunOnTwoThreads(() => Run(PromptA, tokensA, SamplingOptions.Greedy), () => Run(PromptB, tokensB, Sampled));
        Assert.Multiple(() =>
        {
            Assert.That(a, Is.All.EqualTo(aloneA), "thread A");
            Assert.That(b, Is.All.EqualTo(aloneB), "thread B");
        });
    }

    [Test]
    public void ADirectOpCallOverlappingAnotherThreadsCallIsRefused()
    {
        using var ops = new OpInputs(Backend);
        var x = ops.Input(OpInputs.Rows * OpInputs.Hidden);
        var y = ops.Zeros(OpInputs.Rows * OpInputs.Out);
        using var claimed = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() =>
        {
            using (Backend.Access.Enter())
            {
                claimed.Set();
                release.Wait();
            }
        });
        holder.Start();
        claimed.Wait();
        try
        {
            Assert.That(() => Backend.Basic.MatMul(x, ops.Weight, y, OpInputs.Rows),
                Throws.InvalidOperationException.With.Message.Contains("in use by another thread"));
            Assert.That(() => Backend.Allocate(4), Throws.InvalidOperationException);
        }
        finally
        {
            release.Set();
            holder.Join();
        }

        Assert.That(() => Backend.Basic.MatMul(x, ops.Weight, y, OpInputs.Rows), Throws.Nothing, "the backend works once the other call ended");
    }

    [Test]
    public void UnsynchronisedCallsFailCleanlyAndSynchronisedOnesAgree()
    {
        using var ops = new OpInputs(Backend);
        var x = ops.Input(OpInputs.Rows * OpInputs.Hidden);
        var expected = MatMul(ops, x);

        // Without the gate: any overlap is an InvalidOperationException, never another failure or a wrong result.
        var (refusedA, refusedB) = RunOnTwoThreads(() => Hammer(ops, x, expected, locked: false), () => Hammer(ops, x, expected, locked: false));
        TestContext.Out.WriteLine($"unsynchronised: {refusedA + refusedB} overlapping calls refused");

        // With the gate: every call succeeds.
        var (lockedA, lockedB) = RunOnTwoThreads(() => Hammer(ops, x, expected, locked: true), () => Hammer(ops, x, expected, locked: true));
        Assert.That(lockedA + lockedB, Is.Zero);
    }

    [Test]
    public void SessionAndModelMisuseGiveTypedExceptions()
    {
        Assert.That(() => model.CreateSession(-1), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => model.CreateSession(0), Throws.TypeOf<ArgumentOutOfRangeException>());

        var session = model.CreateSession(4);
        session.Dispose();
        Assert.That(() => model.Forward(session, [1]), Throws.TypeOf<ObjectDisposedException>());

        using var other = Qwen3NextModel.Load(Backend, checkpoint);
        using (var foreign = other.CreateSession(4))
        {
            Assert.That(() => model.Forward(foreign, [1]), Throws.ArgumentException.With.Message.Contains("another model"));
        }

        other.Dispose();
        Assert.That(() => other.CreateSession(4), Throws.TypeOf<ObjectDisposedException>());
        Assert.That(() => Generator.Generate(other, [1], 1, SamplingOptions.Greedy), Throws.TypeOf<ObjectDisposedException>());
    }

    private float[] MatMul(OpInputs ops, DeviceTensor x)
    {
        var y = ops.Zeros(OpInputs.Rows * OpInputs.Out);
        Backend.Basic.MatMul(x, ops.Weight, y, OpInputs.Rows);
        return ops.Download(y);
    }

    /// <returns>How many calls were refused as overlapping.</returns>
    private int Hammer(OpInputs ops, DeviceTensor x, float[] expected, bool locked)
    {
        int refused = 0;
        for (int i = 0; i < 40; i++)
        {
            try
            {
                float[] result;
                if (locked)
                {
                    lock (Backend.Access.Gate)
                    {
                        result = RunOnce(ops, x);
                    }
                }
                else
                {
                    result = RunOnce(ops, x);
                }

                Assert.That(result, Is.EqualTo(expected));
            }
            catch (InvalidOperationException e) when (e.Message.Contains("in use by another thread"))
            {
                refused++;
            }
        }

        return refused;
    }

    /// <summary>Allocate, multiply, download, free: each step takes the backend on its own.</summary>
    private float[] RunOnce(OpInputs ops, DeviceTensor x)
    {
        using var y = Backend.Allocate(OpInputs.Rows * OpInputs.Out);
        Backend.Basic.MatMul(x, ops.Weight, y, OpInputs.Rows);
        var result = new float[y.Length];
        Backend.Download(y, result);
        return result;
    }

    private static (T A, T B) RunOnTwoThreads<T>(Func<T> a, Func<T> b)
    {
        T resultA = default!, resultB = default!;
        Exception? failureA = null, failureB = null;
        var threadA = new Thread(() => failureA = Capture(() => resultA = a()));
        var threadB = new Thread(() => failureB = Capture(() => resultB = b()));
        threadA.Start();
        threadB.Start();
        threadA.Join();
        threadB.Join();
        if ((failureA ?? failureB) is { } failure)
        {
            throw new AssertionException($"a thread failed: {failure}");
        }

        return (resultA, resultB);
    }

    private static Exception? Capture(Action action)
    {
        try
        {
            action();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }
}
