using System.Diagnostics;

namespace Qwen3Next.Graph;

/// <summary>One prompt to complete: its ids, how many tokens to generate at most, how to pick them and where to stop.</summary>
public sealed record GenerationRequest(IReadOnlyList<int> Prompt, int MaxNewTokens, SamplingOptions? Sampling = null, IReadOnlySet<int>? StopTokens = null);

/// <summary>What a batched run produced: one result per request, in request order, and the run's aggregate rate.</summary>
public sealed record BatchedGenerationResult(IReadOnlyList<GenerationResult> Results, double Seconds, int Steps, int MaxConcurrent)
{
    public int GeneratedTokens => Results.Sum(r => r.GeneratedIds.Length);

    /// <summary>Generated tokens of all requests over the wall time of the whole run (prefill included).</summary>
    public double TokensPerSecond => Seconds > 0 ? GeneratedTokens / Seconds : 0;
}

/// <summary>
/// A simple default scheduler over a <see cref="BatchSession"/> (engines bring their own): first come, first served;
/// a request is admitted when a slot is free, fewer than <c>maxBatch</c> run, and the KV pages of its whole length
/// (prompt + max new tokens) are not promised to running requests, so a running request never waits for pages. Each step
/// decodes one token of every running request that has its prompt in, and spends what is left of <c>stepTokens</c> on
/// prompt chunks of at most <c>prefillChunk</c> tokens (continuous batching with chunked prefill); a request leaves the
/// batch at its stop token or its token limit, freeing its slot and pages for the next. The scheduler assumes it is the
/// only user of the session's slots and pages while it runs.
/// </summary>
public sealed class ContinuousBatchScheduler
{
    private readonly BatchSession session;
    private readonly int maxBatch;
    private readonly int prefillChunk;
    private readonly int stepTokens;

    public ContinuousBatchScheduler(BatchSession session, int maxBatch, int prefillChunk = 256, int stepTokens = 512)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(prefillChunk, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stepTokens, 1);
        this.session = session;
        this.maxBatch = Math.Min(maxBatch, session.Options.MaxSequences);
        this.prefillChunk = prefillChunk;
        this.stepTokens = stepTokens;
    }

    /// <summary>
    /// Runs a batch sized for <paramref name="requests"/> (at most <paramref name="maxBatch"/> at once, each with room for
    /// its whole length) on <paramref name="model"/> and disposes it afterwards.
    /// </summary>
    public static BatchedGenerationResult Generate(Qwen3NextModel model, IReadOnlyList<GenerationRequest> requests, int maxBatch, int pageSize = 32,
        int prefillChunk = 256, Action<int, int>? onToken = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(requests);
        if (requests.Count == 0)
        {
            throw new ArgumentException("No requests.", nameof(requests));
        }

        int longest = requests.Max(r => (r?.Prompt?.Count ?? 0) + Math.Max(0, r?.MaxNewTokens ?? 0));
        using var batch = model.CreateBatch(new BatchOptions(Math.Min(maxBatch, requests.Count), Math.Max(1, longest), pageSize));
        return new ContinuousBatchScheduler(batch, maxBatch, prefillChunk).Run(requests, onToken, cancellation);
    }

    /// <summary>
    /// Generates every request to completion. <paramref name="onToken"/>(request index, token id) sees each token as soon as
    /// it is chosen. Cancelling finishes the running sequences (their slots and pages are freed) and throws.
    /// </summary>
    public BatchedGenerationResult Run(IReadOnlyList<GenerationRequest> requests, Action<int, int>? onToken = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var pending = new Queue<Running>(requests.Select(Check));
        var running = new List<Running>();
        var results = new GenerationResult[requests.Count];
        var clock = Stopwatch.StartNew();
        int steps = 0, maxConcurrent = 0, promised = 0;
        try
        {
            while (pending.Count > 0 || running.Count > 0)
            {
                cancellation.ThrowIfCancellationRequested();
                while (pending.Count > 0 && running.Count < maxBatch && session.FreeSlots > 0
                    && promised + pending.Peek().Pages <= session.Options.TotalPages)
                {
                    var next = pending.Dequeue();
                    next.Start(session.Add(), clock.Elapsed.TotalSeconds);
                    promised += next.Pages;
                    running.Add(next);
                }

                if (running.Count == 0)
                {
                    throw new InvalidOperationException(
                        $"Request {pending.Peek().Index} cannot start: {session.FreeSlots} slots and {session.FreePages} KV pages are free; the batch is used by other sequences.");
                }

                maxConcurrent = Math.Max(maxConcurrent, running.Count);
                var (step, fed) = Plan(running);
                var outputs = session.Step(step);
                steps++;
                for (int i = 0; i < step.Count; i++)
                {
                    var r = fed[i];
                    if (outputs[i].Fault is { } fault)
                    {
                        throw new NonFiniteValueException($"Request {r.Index}: {fault}", steps - 1, null, double.NaN);
                    }

                    if (outputs[i].Logits is { } logits && r.Take(logits, clock.Elapsed.TotalSeconds, onToken))
                    {
                        session.Finish(r.Sequence);
                        promised -= r.Pages;
                        running.Remove(r);
                        results[r.Index] = r.Result();
                    }
                }
            }
        }
        finally
        {
            foreach (var r in running)
            {
                session.Finish(r.Sequence);
            }
        }

        return new BatchedGenerationResult(results, clock.Elapsed.TotalSeconds, steps, maxConcurrent);
    }

    private Running Check(GenerationRequest request, int index)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Prompt is null || request.Prompt.Count == 0)
        {
            throw new ArgumentException($"Request {index} has an empty prompt.", nameof(request));
        }

        if (request.MaxNewTokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(request), request.MaxNewTokens, $"Request {index}: max new tokens must be ≥ 1.");
        }

        long length = (long)request.Prompt.Count + request.MaxNewTokens;
        if (length > session.Options.MaxTokensPerSequence)
        {
            throw new ArgumentOutOfRangeException(nameof(request), length,
                $"Request {index} needs {length} tokens (prompt + max new tokens); a sequence of this batch holds {session.Options.MaxTokensPerSequence}.");
        }

        int pages = session.PagesFor((int)length);
        if (pages > session.Options.TotalPages)
        {
            throw new ArgumentOutOfRangeException(nameof(request), length, $"Request {index} needs {pages} KV pages; the batch has {session.Options.TotalPages}.");
        }

        return new Running(index, request, pages);
    }

    /// <summary>This step's work: one token for every decoding request, then prompt chunks within the token budget.</summary>
    private (List<SequenceStep> Step, List<Running> Fed) Plan(List<Running> running)
    {
        var step = new List<SequenceStep>();
        var fed = new List<Running>();
        int budget = stepTokens;
        foreach (var r in running.Where(r => r.Decoding))
        {
            step.Add(new SequenceStep(r.Sequence, new[] { r.LastToken }));
            fed.Add(r);
            budget--;
        }

        foreach (var r in running.Where(r => !r.Decoding))
        {
            int chunk = Math.Min(Math.Min(prefillChunk, r.PromptLeft), budget);
            if (chunk < 1 && step.Count > 0)
            {
                break;
            }

            chunk = Math.Max(1, chunk);
            bool last = chunk == r.PromptLeft;
            step.Add(new SequenceStep(r.Sequence, r.NextChunk(chunk), WantLogits: last));
            fed.Add(r);
            budget -= chunk;
        }

        return (step, fed);
    }

    /// <summary>A request while it runs: how much of its prompt is in, what it generated, and when.</summary>
    private sealed class Running(int index, GenerationRequest request, int pages)
    {
        private readonly int[] prompt = [.. request.Prompt];
        private readonly List<int> generated = [];
        private readonly TokenSampler sampler = new(request.Sampling ?? SamplingOptions.Greedy);
        private int promptDone;
        private double started;
        private double firstToken;
        private double finished;

        public int Index { get; } = index;

        public int Pages { get; } = pages;

        public SequenceId Sequence { get; private set; }

        public bool Decoding => promptDone == prompt.Length;

        public int PromptLeft => prompt.Length - promptDone;

        public int LastToken => generated[^1];

        public void Start(SequenceId sequence, double now)
        {
            Sequence = sequence;
            started = now;
        }

        public ReadOnlyMemory<int> NextChunk(int count)
        {
            var chunk = prompt.AsMemory(promptDone, count);
            promptDone += count;
            return chunk;
        }

        /// <summary>Picks the next token from <paramref name="logits"/>; true when the request is complete.</summary>
        public bool Take(float[] logits, double now, Action<int, int>? onToken)
        {
            int token = sampler.Next(logits);
            generated.Add(token);
            if (generated.Count == 1)
            {
                firstToken = now;
            }

            onToken?.Invoke(Index, token);
            bool done = generated.Count >= request.MaxNewTokens || (request.StopTokens?.Contains(token) ?? false);
            if (done)
            {
                finished = now;
            }

            return done;
        }

        public GenerationResult Result() => new(prompt, [.. generated], firstToken - started, finished - firstToken);
    }
}
