using Qwen3Next.Backends;

namespace Qwen3Next.Graph;

/// <summary>Reserving a session's working set when it is created (issue 11: an arena sized when the session is
/// created, zero allocations and frees per step).</summary>
public sealed partial class Qwen3NextModel
{
    /// <summary>
    /// Runs a decode step at <paramref name="maxTokens"/> cached tokens (the most flash-decode splits the session will
    /// need) and, when <paramref name="prefillTokens"/> &gt; 1, a pass of that many tokens through
    /// <see cref="IWorkingSetReservation.Reserve"/>: no kernel runs, so the states are not touched. Throws <see cref="WorkingSetBudgetException"/> when what it holds then exceeds the backend's budget.
    /// </summary>
    private void ReserveWorkingSet(IWorkingSetReservation backend, LayerBatchState[] states, int maxTokens, int prefillTokens)
        => ReserveWorkingSet(backend, states, SequenceBatch.Single(maxTokens - 1, 1), maxTokens, prefillTokens);

    /// <summary>A batch's decode step with as many sequences active as the pages allow, each at the longest context they
    /// leave it (pages and slots in order: nothing runs, so only the shapes matter).</summary>
    private void ReserveWorkingSet(IWorkingSetReservation backend, LayerBatchState[] states, BatchOptions options)
    {
        int b = Math.Min(options.MaxSequences, options.TotalPages);
        int pages = Math.Min(options.PagesPerSequence, options.TotalPages / b);
        int context = (int)Math.Min(options.MaxTokensPerSequence, (long)pages * options.PageSize);
        var decode = new SequenceBatch(Enumerable.Range(0, b + 1).ToArray(), Enumerable.Repeat(context - 1, b).ToArray(), Enumerable.Range(0, b).ToArray(),
            Enumerable.Repeat(context, b).ToArray(), Enumerable.Range(0, b * pages).ToArray(), pages);
        ReserveWorkingSet(backend, states, decode, context, prefillTokens: 1);
    }

    private void ReserveWorkingSet(IWorkingSetReservation backend, LayerBatchState[] states, SequenceBatch decodeStep, int maxTokens, int prefillTokens)
    {
        NonFiniteValueException NoFault(string what, int? layer, float value) => new($"A sizing pass read {what}, which it never computes.", 0, layer, value);

        // Twice: what a step sizes may depend on an earlier pass (expert streaming predicts the next layer's experts
        // only with routers it has seen, and the prediction widens the routing projection).
        int rows = decodeStep.TotalTokens;
        void Decode() => Run(decodeStep, new int[rows], states, Enumerable.Range(0, rows).ToArray(), null, NoFault);
        long decode = backend.Reserve(() =>
        {
            Decode();
            Decode();
        });
        long total = prefillTokens > 1
            ? backend.Reserve(() =>
            {
                Decode(); // again, so the total counts the buffers both passes hold
                Run(SequenceBatch.Single(0, prefillTokens), new int[prefillTokens], states, [prefillTokens - 1], null, NoFault);
            })
            : decode;
        if (backend.WorkingSetBudgetBytes is { } budget && total > budget)
        {
            string chunk = prefillTokens > 1 ? $", with a forward pass of {prefillTokens} tokens {total:N0}" : "";
            throw new WorkingSetBudgetException(total, budget,
                $"A session of {maxTokens} tokens{(rows > 1 ? $" for each of {rows} sequences" : "")} needs {total:N0} bytes of activations and workspaces "
                + $"(a decode step at {maxTokens} cached tokens {decode:N0}{chunk}), more than the {budget:N0} bytes the {Backend.Name} backend may hold for them"
                + (prefillTokens > 1 ? "; a smaller prefill chunk needs less, or raise the budget." : "; raise the budget."));
        }
    }
}
