using NUnit.Framework;
using Qwen3Next.Checkpoint;
using Qwen3Next.Conformance;
using Qwen3Next.Graph;

namespace Qwen3Next.Tests.Graph;

/// <summary>
/// Many sequences in one batch give what each gives alone, on every backend that runs here (the tiny model): through
/// <see cref="BatchSession"/> directly — sequences added and finished at different steps, prompt chunks beside decodes in
/// one pass, slots and pages of finished sequences reused — every step's logits are within the golden model-logits
/// tolerance of the same tokens fed to a session of their own, and the greedy tokens are equal; through
/// <see cref="ContinuousBatchScheduler"/>, every request's greedy tokens equal <see cref="Generator.Generate"/>'s. Prompt
/// lengths 1, 63, 64, 65 and 300 on the reference and on the CUDA C kernels (ptx-emu) — chunk boundaries of the delta
/// rule, several KV pages, prompts in chunks beside decodes; a few short prompts on ILGPU's CPU accelerator, which
/// prefills about 5 tokens/s — its kernels' batching at those lengths is checked op by op in <c>Ops/Batching</c>. The hand-driven batch runs on the CUDA C path on the emulator
/// too (<see cref="TestBackends.SessionBackends"/>); the scheduler, which adds no kernel work, on the CPU backends.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.SessionBackends))]
public sealed class BatchedGenerationTests(string backendName) : TinyModelFixture(backendName)
{

    /// <summary>
    /// Four sequences over a batch of 2 slots and pages for 2: A and B start together, A finishes early and C takes its
    /// slot and pages while B still decodes, then D follows B. B's prompt goes in chunks beside A's and C's decodes.
    /// </summary>
    [Test]
    public void StaggeredSequencesMatchTheirOwnSessions()
    {
        int[] lengths = Short ? [1, 6, 3, 2] : [63, 300, 65, 1];
        int[] generate = Short ? [2, 3, 1, 1] : [2, 5, 3, 3];
        int chunk = Short ? 3 : 64;
        var prompts = lengths.Select((n, i) => Prompt(n, i)).ToArray();
        int longest = lengths.Zip(generate, (n, g) => n + g).Max();
        using var batch = Model.CreateBatch(new BatchOptions(MaxSequences: 2, longest, PageSize: 16));
        var script = new SequenceScript(batch, prompts, generate, chunk);
        script.Start(0);
        script.Start(1);
        while (!script.Done(0))
        {
            script.StepAll();
        }

        int freeAfterA = batch.FreePages;
        script.Start(2);
        while (!script.Done(2))
        {
            script.StepAll();
        }

        script.Start(3);
        while (!script.Done(1) || !script.Done(3))
        {
            script.StepAll();
        }

        Assert.That(batch.ActiveSequences, Is.Zero);
        Assert.That(batch.FreePages, Is.EqualTo(batch.Options.TotalPages), "every page came back");
        Assert.That(freeAfterA, Is.GreaterThan(0), "A's pages were freed for C");
        for (int i = 0; i < prompts.Length; i++)
        {
            AssertMatchesAlone(i, prompts[i], script.Fed(i), script.Logits(i), script.Generated(i));
        }
    }

    /// <summary>Feeds <paramref name="fed"/> to a session of its own in the same chunks and checks every logits row the batch
    /// returned, then the greedy tokens.</summary>
    private void AssertMatchesAlone(int index, int[] prompt, List<int[]> fed, List<float[]> batchLogits, List<int> generated)
    {
        int total = fed.Sum(c => c.Length);
        using var session = Model.CreateSession(total);
        var aloneTokens = new List<int>();
        for (int i = 0; i < fed.Count; i++)
        {
            var logits = Model.Forward(session, fed[i]);
            var check = CheckResult.Compare("tiny", $"sequence {index} logits after {session.Position} tokens", batchLogits[i], logits, GoldenTolerances.ModelLogits);
            Assert.That(check.Passed, Is.True, $"{check.Output}: max abs {check.MaxAbsError:E2}");
            aloneTokens.Add(Qwen3Next.Ops.Basic.ArgmaxReference.Row(logits));
        }

        Assert.That(generated, Is.EqualTo(aloneTokens.Skip(aloneTokens.Count - generated.Count)), $"greedy tokens of sequence {index}");
        Assert.That(fed[0].Concat(fed.Skip(1).SelectMany(c => c)).Take(prompt.Length), Is.EqualTo(prompt));
    }

    /// <summary>Drives sequences through a batch by hand: prompts in chunks, then greedy decoding, recording what each was fed
    /// per step and the logits it got back.</summary>
    private sealed class SequenceScript(BatchSession batch, int[][] prompts, int[] generate, int chunk)
    {
        private readonly Dictionary<int, SequenceId> ids = [];
        private readonly Dictionary<int, int> promptDone = [];
        private readonly Dictionary<int, List<int[]>> fed = [];
        private readonly Dictionary<int, List<float[]>> logits = [];
        private readonly Dictionary<int, List<int>> generated = [];

        public void Start(int i)
        {
            ids[i] = batch.Add();
            promptDone[i] = 0;
            fed[i] = [];
            logits[i] = [];
            generated[i] = [];
        }

        public bool Done(int i) => generated.TryGetValue(i, out var g) && g.Count == generate[i];

        public List<int[]> Fed(int i) => fed[i];

        public List<float[]> Logits(int i) => logits[i];

        public List<int> Generated(int i) => generated[i];

        /// <summary>One step of every started, unfinished sequence: its next prompt chunk, or its last token; each asks for logits.</summary>
        public void StepAll()
        {
            var active = ids.Keys.Where(i => !Done(i)).ToList();
            var steps = new List<SequenceStep>();
            foreach (int i in active)
            {
                int[] tokens = promptDone[i] < prompts[i].Length
                    ? prompts[i].AsSpan(promptDone[i], Math.Min(chunk, prompts[i].Length - promptDone[i])).ToArray()
                    : [generated[i][^1]];
                promptDone[i] = Math.Min(prompts[i].Length, promptDone[i] + tokens.Length);
                fed[i].Add(tokens);
                steps.Add(new SequenceStep(ids[i], tokens));
            }

            var outputs = batch.Step(steps);
            for (int s = 0; s < active.Count; s++)
            {
                int i = active[s];
                Assert.That(outputs[s].Sequence, Is.EqualTo(ids[i]));
                Assert.That(outputs[s].Fault, Is.Null);
                logits[i].Add(outputs[s].Logits!);
                if (promptDone[i] == prompts[i].Length)
                {
                    generated[i].Add(outputs[s].Greedy);
                    if (Done(i))
                    {
                        batch.Finish(ids[i]);
                    }
                }
            }
        }
    }
}

/// <summary>The default scheduler over more requests than slots: each request's greedy tokens equal a run of its own.</summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.CpuBackends))]
public sealed class BatchSchedulerTests(string backendName) : TinyModelFixture(backendName)
{
    [Test]
    public void SchedulerGivesEveryRequestItsOwnGreedyTokens()
    {
        int[] lengths = Short ? [3, 1, 6] : [1, 63, 64, 65, 300];
        int[] generate = Short ? [2, 1, 2] : [4, 2, 6, 3, 3];
        var requests = lengths.Select((n, i) => new GenerationRequest(Prompt(n, i + 10), generate[i])).ToArray();
        var tokens = new List<(int Request, int Token)>();
        var result = ContinuousBatchScheduler.Generate(Model, requests, maxBatch: 2, pageSize: 32, prefillChunk: Short ? 4 : 64,
            onToken: (r, t) => tokens.Add((r, t)));

        Assert.That(result.MaxConcurrent, Is.EqualTo(2));
        Assert.That(result.GeneratedTokens, Is.EqualTo(generate.Sum()));
        for (int i = 0; i < requests.Length; i++)
        {
            var alone = Generator.Generate(Model, requests[i].Prompt, generate[i], SamplingOptions.Greedy);
            Assert.That(result.Results[i].GeneratedIds, Is.EqualTo(alone.GeneratedIds), $"request {i} (prompt of {lengths[i]})");
            Assert.That(tokens.Where(x => x.Request == i).Select(x => x.Token), Is.EqualTo(alone.GeneratedIds), $"streamed tokens of request {i}");
        }
    }
}

/// <summary>The tiny model loaded once per fixture on one backend.</summary>
public abstract class TinyModelFixture(string backendName)
{
    private QwenCheckpoint? checkpoint;
    private Qwen3NextModel? loaded;

    protected Qwen3NextModel Model => loaded ?? throw new InvalidOperationException("The model is loaded in OneTimeSetUp.");

    /// <summary>Short prompts on ILGPU's CPU accelerator only: it prefills a few tokens per second, where the reference and
    /// the CUDA C kernels on the emulator run the long prompts (lengths 63, 300, 65 and 1 in chunks of 64) in seconds.</summary>
    protected bool Short => backendName == "ilgpu-cpu";

    [OneTimeSetUp]
    public void Load()
    {
        checkpoint = QwenCheckpoint.Open(Path.Combine(TestBackends.DataRoot, "models", "tiny-qwen3-next"));
        loaded = Qwen3NextModel.Load(TestBackends.Get(backendName), checkpoint);
    }

    [OneTimeTearDown]
    public void Unload()
    {
        loaded?.Dispose();
        checkpoint?.Dispose();
    }

    protected static int[] Prompt(int length, int seed) => Enumerable.Range(0, length).Select(i => ((i * 37) + (seed * 101) + 11) % 512).ToArray();
}
