using Qwen3Next.Backends;

namespace Qwen3Next.Graph;

/// <summary>
/// Many sequences on one model, run together the way engines serve them (continuous batching with chunked prefill):
/// <see cref="Add"/> a sequence (it gets a zeroed state slot), <see cref="Step"/> any subset of the sequences in one
/// forward pass — prompt chunks of any length beside single-token decodes — and read each one's logits, then
/// <see cref="Finish"/> it, which frees its slot and KV pages for the next sequence. The order and size of the steps is
/// the engine's business (<see cref="ContinuousBatchScheduler"/> is a simple default). Each sequence's tokens sit at
/// positions 0, 1, 2, … of its own; KV pages are taken from a shared free list as sequences grow. Every request is
/// checked before anything runs (unknown or finished sequences, full capacity, out-of-vocabulary ids), and a step that
/// cannot get its pages changes nothing. Calls take the backend's lock, so sessions and batches of one model may be
/// used from different threads.
/// </summary>
public sealed class BatchSession : IDisposable
{
    private readonly Qwen3NextModel model;
    private readonly LayerBatchState[] layers;
    private readonly DeviceTensor zeros;
    private readonly Stack<int> freeSlots;
    private readonly Stack<int> freePages;
    private readonly Dictionary<SequenceId, Sequence> sequences = [];
    private long nextId;
    private int disposed;

    internal BatchSession(Qwen3NextModel model, BatchOptions options, LayerBatchState[] layers, DeviceTensor zeros)
    {
        this.model = model;
        Options = options;
        this.layers = layers;
        this.zeros = zeros;
        freeSlots = new Stack<int>(Enumerable.Range(0, options.MaxSequences).Reverse());
        freePages = new Stack<int>(Enumerable.Range(0, options.TotalPages).Reverse());
    }

    public BatchOptions Options { get; }

    /// <summary>Sequences added and not finished.</summary>
    public int ActiveSequences
    {
        get
        {
            lock (model.Backend.Access.Gate)
            {
                return sequences.Count;
            }
        }
    }

    public int FreeSlots
    {
        get
        {
            lock (model.Backend.Access.Gate)
            {
                return freeSlots.Count;
            }
        }
    }

    public int FreePages
    {
        get
        {
            lock (model.Backend.Access.Gate)
            {
                return freePages.Count;
            }
        }
    }

    /// <summary>Forward passes run so far.</summary>
    public int Steps { get; private set; }

    public bool IsDisposed => Volatile.Read(ref disposed) != 0;

    /// <summary>KV pages a sequence of <paramref name="tokens"/> tokens holds.</summary>
    public int PagesFor(int tokens) => (int)(((long)tokens + Options.PageSize - 1) / Options.PageSize);

    /// <summary>Starts a sequence in a free state slot (zeroed on the device); <see cref="InvalidOperationException"/> when all
    /// <see cref="BatchOptions.MaxSequences"/> slots are taken.</summary>
    public SequenceId Add()
    {
        lock (model.Backend.Access.Gate)
        {
            ThrowIfDisposed();
            if (freeSlots.Count == 0)
            {
                throw new InvalidOperationException($"All {Options.MaxSequences} sequence slots are in use; finish a sequence first.");
            }

            int slot = freeSlots.Peek();
            var shape = model.Shapes.Linear;
            long convSlot = (long)shape.ConvDim * shape.ConvKernel, recurrentSlot = (long)shape.ValueHeads * shape.KeyDim * shape.ValueDim;
            foreach (var layer in layers)
            {
                if (layer.Linear is { } pool)
                {
                    model.Backend.Copy(zeros, 0, pool.Conv, slot * convSlot, convSlot);
                    model.Backend.Copy(zeros, 0, pool.Recurrent, slot * recurrentSlot, recurrentSlot);
                }
            }

            freeSlots.Pop();
            var id = new SequenceId(nextId++);
            sequences[id] = new Sequence(slot);
            return id;
        }
    }

    /// <summary>Tokens the sequence has consumed: the position of its next token.</summary>
    public int Length(SequenceId id)
    {
        lock (model.Backend.Access.Gate)
        {
            return Get(id).Length;
        }
    }

    /// <summary>Ends a sequence and returns its slot and pages to the free lists (a finished id is unknown afterwards).</summary>
    public void Finish(SequenceId id)
    {
        lock (model.Backend.Access.Gate)
        {
            var sequence = Get(id);
            sequences.Remove(id);
            freeSlots.Push(sequence.Slot);
            for (int i = sequence.Pages.Count - 1; i >= 0; i--)
            {
                freePages.Push(sequence.Pages[i]);
            }
        }
    }

    /// <summary>
    /// One forward pass over the given sequences (each at most once), in the given order. Returns one output per step:
    /// the logits after each sequence's last token when asked for. A sequence whose logits are non-finite gets a
    /// <see cref="SequenceOutput.Fault"/> and is unusable; if the pass itself fails every sequence of the step is.
    /// </summary>
    public IReadOnlyList<SequenceOutput> Step(IReadOnlyList<SequenceStep> steps, IForwardObserver? observer = null)
    {
        ArgumentNullException.ThrowIfNull(steps);
        lock (model.Backend.Access.Gate)
        {
            ThrowIfDisposed();
            var plan = Plan(steps);
            foreach (var (sequence, pages) in plan.NewPages)
            {
                for (int i = 0; i < pages; i++)
                {
                    sequence.Pages.Add(freePages.Pop());
                }
            }

            var batch = Batch(steps, plan.Sequences);
            float[] logits;
            try
            {
                logits = model.Run(batch, plan.Tokens, layers, plan.LogitRows, observer, (what, layer, value) => Fail(plan.Sequences, what, layer, value));
            }
            catch (Exception e) when (e is not NonFiniteValueException)
            {
                // The pass stopped part-way: some layers' states of these sequences moved on and others did not.
                foreach (var sequence in plan.Sequences)
                {
                    sequence.Fault ??= $"step {Steps} failed part-way: {e.Message}";
                }

                throw;
            }

            Steps++;
            return Outputs(steps, plan, logits);
        }
    }

    private StepPlan Plan(IReadOnlyList<SequenceStep> steps)
    {
        if (steps.Count == 0)
        {
            throw new ArgumentException("A step needs at least one sequence.", nameof(steps));
        }

        var seen = new HashSet<SequenceId>();
        var plan = new StepPlan(steps.Count);
        int vocab = model.Config.VocabSize, pagesNeeded = 0;
        foreach (var step in steps)
        {
            ArgumentNullException.ThrowIfNull(step, nameof(steps));
            if (!seen.Add(step.Sequence))
            {
                throw new ArgumentException($"{step.Sequence} appears twice in one step.", nameof(steps));
            }

            var sequence = Get(step.Sequence);
            if (sequence.Fault is { } fault)
            {
                throw new InvalidOperationException($"{step.Sequence} is unusable: {fault} Finish it.");
            }

            var tokens = step.Tokens.Span;
            if (tokens.IsEmpty)
            {
                throw new ArgumentException($"{step.Sequence} has no tokens in this step.", nameof(steps));
            }

            if ((long)sequence.Length + tokens.Length > Options.MaxTokensPerSequence)
            {
                throw new InvalidOperationException(
                    $"{step.Sequence} holds {sequence.Length} tokens; {tokens.Length} more exceed the {Options.MaxTokensPerSequence} a sequence of this batch may hold.");
            }

            foreach (int id in tokens)
            {
                if ((uint)id >= (uint)vocab)
                {
                    throw new ArgumentOutOfRangeException(nameof(steps), $"Token id {id} of {step.Sequence} is outside the vocabulary [0, {vocab}).");
                }
            }

            int more = PagesFor(sequence.Length + tokens.Length) - sequence.Pages.Count;
            pagesNeeded += Math.Max(0, more);
            plan.Add(sequence, tokens, step.WantLogits, Math.Max(0, more));
        }

        if (pagesNeeded > freePages.Count)
        {
            throw new InvalidOperationException(
                $"The step needs {pagesNeeded} more KV pages but {freePages.Count} of {Options.TotalPages} are free; finish a sequence or step fewer tokens.");
        }

        return plan;
    }

    private SequenceBatch Batch(IReadOnlyList<SequenceStep> steps, List<Sequence> planned)
    {
        int count = planned.Count, maxPages = Math.Max(1, planned.Max(s => s.Pages.Count));
        var cu = new int[count + 1];
        var slots = new int[count];
        var context = new int[count];
        var tables = new int[count * maxPages];
        var positions = new List<int>();
        for (int b = 0; b < count; b++)
        {
            var sequence = planned[b];
            int n = steps[b].Tokens.Length;
            cu[b + 1] = cu[b] + n;
            slots[b] = sequence.Slot;
            context[b] = sequence.Length + n;
            sequence.Pages.CopyTo(tables, b * maxPages);
            for (int i = 0; i < n; i++)
            {
                positions.Add(sequence.Length + i);
            }
        }

        return new SequenceBatch(cu, positions.ToArray(), slots, context, tables, maxPages);
    }

    private SequenceOutput[] Outputs(IReadOnlyList<SequenceStep> steps, StepPlan plan, float[] logits)
    {
        int vocab = model.Config.VocabSize, row = 0;
        var outputs = new SequenceOutput[steps.Count];
        for (int b = 0; b < steps.Count; b++)
        {
            var sequence = plan.Sequences[b];
            sequence.Length += steps[b].Tokens.Length;
            if (!steps[b].WantLogits)
            {
                outputs[b] = new SequenceOutput(steps[b].Sequence, null, null);
                continue;
            }

            var own = logits.AsSpan(row++ * vocab, vocab).ToArray();
            var (first, count) = NonFiniteScan.Find(own);
            if (first >= 0)
            {
                sequence.Fault = $"Non-finite values at step {Steps - 1} (its position {sequence.Length - 1}): {model.LogitsMessage(count, own.Length, own[first], first)}";
                outputs[b] = new SequenceOutput(steps[b].Sequence, null, sequence.Fault);
            }
            else
            {
                outputs[b] = new SequenceOutput(steps[b].Sequence, own, null);
            }
        }

        return outputs;
    }

    private NonFiniteValueException Fail(List<Sequence> planned, string what, int? layer, float value)
    {
        string message = $"Non-finite values at batch step {Steps}: {what}";
        foreach (var sequence in planned)
        {
            sequence.Fault ??= message;
        }

        return new NonFiniteValueException(message, Steps, layer, value);
    }

    private Sequence Get(SequenceId id) => sequences.TryGetValue(id, out var sequence) ? sequence
        : throw new ArgumentException($"{id} is not in this batch (never added, or finished).", nameof(id));

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        lock (model.Backend.Access.Gate)
        {
            foreach (var layer in layers)
            {
                layer.Linear?.Dispose();
                layer.Cache?.Dispose();
            }

            zeros.Dispose();
        }
    }

    /// <summary>One sequence's bookkeeping: its slot, its pages in order, tokens consumed, and why it is unusable.</summary>
    private sealed class Sequence(int slot)
    {
        public int Slot { get; } = slot;

        public List<int> Pages { get; } = [];

        public int Length { get; set; }

        public string? Fault { get; set; }
    }

    /// <summary>What a step will run: its sequences in order, their tokens packed, the rows whose logits are wanted, and
    /// the pages each sequence must take first.</summary>
    private sealed class StepPlan(int capacity)
    {
        private readonly List<int> tokens = [];
        private readonly List<int> rows = [];

        public List<Sequence> Sequences { get; } = new(capacity);

        public List<(Sequence Sequence, int Pages)> NewPages { get; } = [];

        public int[] Tokens => [.. tokens];

        public int[] LogitRows => [.. rows];

        public void Add(Sequence sequence, ReadOnlySpan<int> ids, bool wantLogits, int pages)
        {
            Sequences.Add(sequence);
            foreach (int id in ids)
            {
                tokens.Add(id);
            }

            if (wantLogits)
            {
                rows.Add(tokens.Count - 1);
            }

            if (pages > 0)
            {
                NewPages.Add((sequence, pages));
            }
        }
    }
}
