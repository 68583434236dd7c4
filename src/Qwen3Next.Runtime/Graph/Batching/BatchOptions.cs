using Qwen3Next.Backends;

namespace Qwen3Next.Graph;

/// <summary>
/// Sizes of a <see cref="BatchSession"/>: how many sequences it holds at once (each owns one linear-attention state slot
/// per linear layer), how long one may grow, and the KV cache in pages of <see cref="PageSize"/> tokens, shared by every
/// attention layer's pools and handed out to sequences as they grow. <see cref="KvPages"/> = 0 gives every sequence room
/// for <see cref="MaxTokensPerSequence"/> tokens; fewer pages serve more sequences of mixed lengths.
/// </summary>
public sealed record BatchOptions(int MaxSequences, int MaxTokensPerSequence, int PageSize = 32, int KvPages = 0)
{
    /// <summary>Pages one sequence of <see cref="MaxTokensPerSequence"/> tokens needs: the width of its block table.</summary>
    public int PagesPerSequence => (int)(((long)MaxTokensPerSequence + PageSize - 1) / PageSize);

    /// <summary>Pages in each attention layer's pools.</summary>
    public int TotalPages => KvPages > 0 ? KvPages : checked(MaxSequences * PagesPerSequence);

    public void Validate()
    {
        if (MaxSequences < 1 || MaxSequences > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxSequences), MaxSequences, "A batch holds 1..65535 sequences.");
        }

        if (MaxTokensPerSequence < 1 || MaxTokensPerSequence > SequenceBatch.MaxPosition)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxTokensPerSequence), MaxTokensPerSequence, $"A sequence holds 1..{SequenceBatch.MaxPosition} tokens.");
        }

        if (PageSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(PageSize), PageSize, "A KV page holds at least one token.");
        }

        if (KvPages < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(KvPages), KvPages, "KvPages must be ≥ 0 (0 = room for every sequence's maximum).");
        }
    }
}

/// <summary>A sequence of a <see cref="BatchSession"/>: an id that is never reused, even when its slot and pages are.</summary>
public readonly record struct SequenceId(long Value)
{
    public override string ToString() => $"sequence {Value}";
}

/// <summary>What one sequence feeds in one step: any number of tokens (a prompt chunk, or the one token of a decode);
/// with <paramref name="WantLogits"/> the step returns the logits after its last token.</summary>
public sealed record SequenceStep(SequenceId Sequence, ReadOnlyMemory<int> Tokens, bool WantLogits = true);

/// <summary>What one step gave a sequence: the logits after its last token (when asked), or why the sequence is unusable.</summary>
public sealed class SequenceOutput(SequenceId sequence, float[]? logits, string? fault)
{
    public SequenceId Sequence { get; } = sequence;

    /// <summary><c>[vocab]</c> after the sequence's last token of the step; null when not asked for or on a fault.</summary>
    public float[]? Logits { get; } = logits;

    /// <summary>Non-null when the logits held NaN or ±Inf: the sequence is unusable and should be finished.</summary>
    public string? Fault { get; } = fault;

    /// <summary>The greedy token: argmax of <see cref="Logits"/> (lowest id on ties).</summary>
    public int Greedy => Logits is { } l ? Ops.Basic.ArgmaxReference.Row(l)
        : throw new InvalidOperationException(Fault ?? $"{Sequence}: the step did not ask for logits.");
}
