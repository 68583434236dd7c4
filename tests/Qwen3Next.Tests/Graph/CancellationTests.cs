using NUnit.Framework;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Graph;

/// <summary>An engine stops a request part-way: generation throws <see cref="OperationCanceledException"/> or the stream
/// ends, the session is freed (<see cref="Qwen3NextModel.OpenSessions"/> back to 0), and the model generates as before.</summary>
public sealed class CancellationTests
{
    private static readonly int[] Prompt = [1, 2, 3, 4, 5];
    private Qwen3NextModel model = null!;
    private int[] whole = null!;

    [OneTimeSetUp]
    public void Load()
    {
        using var checkpoint = QwenCheckpoint.Open(GoldenData.TinyModel);
        model = Qwen3NextModel.Load(TestBackends.Get("reference"), checkpoint);
        whole = Generator.Generate(model, Prompt, 6, SamplingOptions.Greedy).GeneratedIds;
    }

    [OneTimeTearDown]
    public void Free() => model.Dispose();

    [Test]
    public void CancellingFromTheTokenCallbackStopsBeforeTheNextForwardPass()
    {
        using var cancel = new CancellationTokenSource();
        var seen = new List<int>();
        Assert.Throws<OperationCanceledException>(() => Generator.Generate(model, Prompt, 6, SamplingOptions.Greedy, onToken: id =>
        {
            seen.Add(id);
            if (seen.Count == 2)
            {
                cancel.Cancel();
            }
        }, cancellationToken: cancel.Token));
        Assert.That(seen, Is.EqualTo(whole.Take(2)));
        Assert.That(model.OpenSessions, Is.Zero, "the cancelled generation's session was freed");
        Assert.That(Generator.Generate(model, Prompt, 6, SamplingOptions.Greedy).GeneratedIds, Is.EqualTo(whole), "the model is unaffected");
    }

    [Test]
    public void AnAlreadyCancelledTokenRunsNothing()
    {
        Assert.Throws<OperationCanceledException>(() => Generator.Generate(model, Prompt, 6, SamplingOptions.Greedy, cancellationToken: new CancellationToken(true)));
        Assert.That(model.OpenSessions, Is.Zero);
    }

    [Test]
    public async Task TheStreamYieldsTheSameTokensAsGenerate()
    {
        var streamed = new List<int>();
        await foreach (int id in Generator.StreamAsync(model, Prompt, 6, SamplingOptions.Greedy))
        {
            streamed.Add(id);
            Assert.That(model.OpenSessions, Is.EqualTo(1), "one session while the stream runs");
        }

        Assert.That(streamed, Is.EqualTo(whole));
        Assert.That(model.OpenSessions, Is.Zero);
    }

    [Test]
    public async Task LeavingTheStreamEarlyFreesTheSession()
    {
        var streamed = new List<int>();
        await foreach (int id in Generator.StreamAsync(model, Prompt, 6, SamplingOptions.Greedy))
        {
            streamed.Add(id);
            if (streamed.Count == 3)
            {
                break;
            }
        }

        Assert.That(streamed, Is.EqualTo(whole.Take(3)));
        Assert.That(model.OpenSessions, Is.Zero);
    }

    [Test]
    public void CancellingTheStreamThrowsAndFreesTheSession()
    {
        using var cancel = new CancellationTokenSource();
        var streamed = new List<int>();
        Assert.ThrowsAsync<OperationCanceledException>(async () =>
        {
            await foreach (int id in Generator.StreamAsync(model, Prompt, 6, SamplingOptions.Greedy, cancellationToken: cancel.Token))
            {
                streamed.Add(id);
                cancel.Cancel();
            }
        });
        Assert.That(streamed, Is.EqualTo(whole.Take(1)));
        Assert.That(model.OpenSessions, Is.Zero);
    }

    [Test]
    public void StopTokensEndTheStream()
    {
        var stops = new HashSet<int> { whole[1] };
        var streamed = Generator.StreamAsync(model, Prompt, 6, SamplingOptions.Greedy, stops).ToBlockingEnumerable().ToList();
        Assert.That(streamed, Is.EqualTo(whole.Take(whole.ToList().IndexOf(whole[1]) + 1)));
    }
}
