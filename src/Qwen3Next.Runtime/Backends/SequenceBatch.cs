namespace Qwen3Next.Backends;

/// <summary>
/// A packed variable-length batch, the fla / FlashInfer convention: the tokens of B sequences concatenated
/// (<c>[T_total, …]</c> in every activation), <see cref="CuSeqlens"/> int32 <c>[B + 1]</c> (sequence b owns tokens
/// <c>cu[b] .. cu[b+1]-1</c>), and the absolute <see cref="Positions"/> of every token (what RoPE uses). What the ops
/// with state need comes with it: <see cref="SlotIds"/> (linear-attention state slot of each sequence),
/// <see cref="ContextLengths"/> (KV tokens of each sequence after this step's tokens are appended; the new tokens
/// take cache indices <c>ctx[b] − len(b) .. ctx[b] − 1</c>, and token i of sequence b attends to cache indices
/// <c>0 .. ctx[b] − len(b) + i</c>) and the row-major <see cref="BlockTables"/> <c>[B, MaxPagesPerSequence]</c>.
/// The structure is checked here, when the batch is built; what depends on an op's pools (slot and page ranges, block
/// tables long enough for the page size, pages not shared) is checked by <see cref="OpContracts"/> before any kernel.
/// Immutable, so backends may keep its device copy for as long as they see the same instance.
/// </summary>
public sealed class SequenceBatch
{
    /// <summary>Positions are below this: the RoPE table has a row per position and float32 holds them exactly.</summary>
    public const int MaxPosition = 1 << 22;

    /// <summary>Tokens per chunk of the chunked gated delta rule; the chunk list never lets a chunk cross a sequence.</summary>
    public const int ChunkSize = 64;

    private readonly int[] cuSeqlens;
    private readonly int[] positions;
    private readonly int[] slotIds;
    private readonly int[] contextLengths;
    private readonly int[] blockTables;
    private int[]? packed;

    /// <param name="cuSeqlens"><c>[B + 1]</c>: starts at 0, strictly increasing (every sequence has a token), ends at the token count.</param>
    /// <param name="positions"><c>[T_total]</c>: each in [0, <see cref="MaxPosition"/>).</param>
    /// <param name="slotIds"><c>[B]</c> distinct, non-negative; empty when no op of the batch keeps linear-attention state.</param>
    /// <param name="contextLengths"><c>[B]</c>, each at least its sequence's length; empty: the last position + 1 (cache index = position).</param>
    /// <param name="blockTables"><c>[B, maxPagesPerSequence]</c> page ids (entries past what a sequence needs are ignored);
    /// empty when no op of the batch reads a paged KV cache.</param>
    public SequenceBatch(ReadOnlySpan<int> cuSeqlens, ReadOnlySpan<int> positions, ReadOnlySpan<int> slotIds = default,
        ReadOnlySpan<int> contextLengths = default, ReadOnlySpan<int> blockTables = default, int maxPagesPerSequence = 0)
    {
        this.cuSeqlens = cuSeqlens.ToArray();
        this.positions = positions.ToArray();
        this.slotIds = slotIds.ToArray();
        this.blockTables = blockTables.ToArray();
        MaxPagesPerSequence = maxPagesPerSequence;
        CheckSequences();
        this.contextLengths = contextLengths.IsEmpty ? DefaultContexts() : contextLengths.ToArray();
        CheckStates();
        (ChunkIndices, ChunkOffsets) = Chunks();
    }

    /// <summary>One sequence of <paramref name="tokens"/> tokens continuing after <paramref name="cached"/> (positions and
    /// cache indices <c>cached ..</c>), in state slot 0 and page 0: the single-sequence case of every op.</summary>
    public static SequenceBatch Single(int cached, int tokens)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cached);
        ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 1);
        var positions = Enumerable.Range(cached, tokens).ToArray();
        return new SequenceBatch([0, tokens], positions, [0], [cached + tokens], [0], 1);
    }

    /// <summary>Sequences b = 0..B−1.</summary>
    public int Count => cuSeqlens.Length - 1;

    /// <summary>T_total: the rows of every activation of the batch.</summary>
    public int TotalTokens => positions.Length;

    public ReadOnlySpan<int> CuSeqlens => cuSeqlens;

    public ReadOnlySpan<int> Positions => positions;

    public ReadOnlySpan<int> SlotIds => slotIds;

    public ReadOnlySpan<int> ContextLengths => contextLengths;

    public ReadOnlySpan<int> BlockTables => blockTables;

    public int MaxPagesPerSequence { get; }

    public bool HasSlots => slotIds.Length > 0;

    public bool HasBlockTables => blockTables.Length > 0;

    /// <summary>Tokens of sequence <paramref name="b"/>.</summary>
    public int Length(int b) => cuSeqlens[b + 1] - cuSeqlens[b];

    /// <summary>Every sequence has exactly one token: a decode step (cu_seqlens = [0, 1, …, B]).</summary>
    public bool IsDecode => TotalTokens == Count;

    public int MaxLength { get; private set; }

    public int MaxContext => contextLengths.Max();

    /// <summary>Largest position of any token (the RoPE table must cover it).</summary>
    public int MaxPositionUsed => positions.Max();

    /// <summary>The gated delta chunks, fla's <c>chunk_indices</c>: <c>[chunks, 2]</c> = (sequence, chunk within it), in sequence order.</summary>
    public int[] ChunkIndices { get; }

    /// <summary><c>[B + 1]</c>: sequence b owns chunks <c>offsets[b] .. offsets[b+1]-1</c> (fla's <c>chunk_offsets</c>).</summary>
    public int[] ChunkOffsets { get; }

    public int ChunkCount => ChunkIndices.Length / 2;

    /// <summary>
    /// Every array the kernels read, in one int32 buffer so a backend uploads a batch once per forward pass:
    /// <see cref="Layout"/> gives the offsets. Slot ids and block tables are zeros when the batch has none.
    /// </summary>
    internal int[] Packed => packed ??= Pack();

    internal BatchLayout Layout => new(Count, TotalTokens, MaxPagesPerSequence, ChunkCount);

    private void CheckSequences()
    {
        if (cuSeqlens.Length < 2)
        {
            throw new ArgumentException($"cu_seqlens holds {cuSeqlens.Length} offsets; a batch needs B + 1 ≥ 2.", "batch.CuSeqlens");
        }

        if (cuSeqlens[0] != 0)
        {
            throw new ArgumentException($"cu_seqlens must start at 0 (starts at {cuSeqlens[0]}).", "batch.CuSeqlens");
        }

        for (int b = 0; b < Count; b++)
        {
            int length = cuSeqlens[b + 1] - cuSeqlens[b];
            if (length < 0)
            {
                throw new ArgumentException($"cu_seqlens decreases at sequence {b}: {cuSeqlens[b]} then {cuSeqlens[b + 1]}.", "batch.CuSeqlens");
            }

            if (length == 0)
            {
                throw new ArgumentException($"Sequence {b} is empty (cu_seqlens[{b}] = cu_seqlens[{b + 1}] = {cuSeqlens[b]}); every sequence of a batch needs a token.",
                    "batch.CuSeqlens");
            }

            MaxLength = Math.Max(MaxLength, length);
        }

        if (cuSeqlens[^1] != positions.Length)
        {
            throw new ArgumentException($"cu_seqlens ends at {cuSeqlens[^1]} but the batch has {positions.Length} tokens (positions).", "batch.CuSeqlens");
        }

        for (int t = 0; t < positions.Length; t++)
        {
            if ((uint)positions[t] >= MaxPosition)
            {
                throw new ArgumentOutOfRangeException("batch.Positions", positions[t], $"Position of token {t} is outside [0, {MaxPosition}).");
            }
        }
    }

    private void CheckStates()
    {
        if (slotIds.Length != 0)
        {
            if (slotIds.Length != Count)
            {
                throw new ArgumentException($"slot_ids holds {slotIds.Length} ids for {Count} sequences.", "batch.SlotIds");
            }

            var seen = new Dictionary<int, int>();
            for (int b = 0; b < Count; b++)
            {
                if (slotIds[b] < 0)
                {
                    throw new ArgumentOutOfRangeException("batch.SlotIds", slotIds[b], $"Slot id of sequence {b} is negative.");
                }

                if (!seen.TryAdd(slotIds[b], b))
                {
                    throw new ArgumentException($"Slot {slotIds[b]} is used by sequences {seen[slotIds[b]]} and {b}: each sequence needs its own state slot.",
                        "batch.SlotIds");
                }
            }
        }

        if (contextLengths.Length != Count)
        {
            throw new ArgumentException($"context_lens holds {contextLengths.Length} lengths for {Count} sequences.", "batch.ContextLengths");
        }

        for (int b = 0; b < Count; b++)
        {
            if (contextLengths[b] < Length(b) || contextLengths[b] > MaxPosition)
            {
                throw new ArgumentOutOfRangeException("batch.ContextLengths", contextLengths[b],
                    $"Context length of sequence {b} must be at least its {Length(b)} new tokens and at most {MaxPosition}.");
            }
        }

        if (blockTables.Length != 0 && (MaxPagesPerSequence < 1 || blockTables.Length != (long)Count * MaxPagesPerSequence))
        {
            throw new ArgumentException($"block_tables holds {blockTables.Length} entries; [B, max_pages] = [{Count}, {MaxPagesPerSequence}] are needed.",
                "batch.BlockTables");
        }
    }

    private int[] DefaultContexts()
    {
        var context = new int[Count];
        for (int b = 0; b < Count; b++)
        {
            context[b] = positions[cuSeqlens[b + 1] - 1] + 1;
        }

        return context;
    }

    private (int[] Indices, int[] Offsets) Chunks()
    {
        var offsets = new int[Count + 1];
        for (int b = 0; b < Count; b++)
        {
            offsets[b + 1] = offsets[b] + ((Length(b) + ChunkSize - 1) / ChunkSize);
        }

        var indices = new int[2 * offsets[^1]];
        for (int b = 0; b < Count; b++)
        {
            for (int c = offsets[b]; c < offsets[b + 1]; c++)
            {
                indices[2 * c] = b;
                indices[(2 * c) + 1] = c - offsets[b];
            }
        }

        return (indices, offsets);
    }

    private int[] Pack()
    {
        var layout = Layout;
        var all = new int[layout.Total];
        cuSeqlens.CopyTo(all, layout.CuSeqlens);
        positions.CopyTo(all, layout.Positions);
        slotIds.CopyTo(all, layout.SlotIds);
        contextLengths.CopyTo(all, layout.ContextLengths);
        blockTables.CopyTo(all, layout.BlockTables);
        ChunkIndices.CopyTo(all, layout.ChunkIndices);
        ChunkOffsets.CopyTo(all, layout.ChunkOffsets);
        return all;
    }
}

/// <summary>
/// Offsets of each array inside <see cref="SequenceBatch.Packed"/>, passed to the ILGPU kernels by value with the one
/// int buffer: cu_seqlens [B+1] | positions [T] | slot_ids [B] | context_lens [B] | block_tables [B, max_pages] |
/// chunk_indices [chunks, 2] | chunk_offsets [B+1].
/// </summary>
public struct BatchLayout
{
    public int Sequences;
    public int Tokens;
    public int MaxPages;
    public int Chunks;
    public int CuSeqlens;
    public int Positions;
    public int SlotIds;
    public int ContextLengths;
    public int BlockTables;
    public int ChunkIndices;
    public int ChunkOffsets;
    public int Total;

    public BatchLayout(int sequences, int tokens, int maxPages, int chunks)
    {
        Sequences = sequences;
        Tokens = tokens;
        MaxPages = Math.Max(1, maxPages);
        Chunks = chunks;
        CuSeqlens = 0;
        Positions = sequences + 1;
        SlotIds = Positions + tokens;
        ContextLengths = SlotIds + sequences;
        BlockTables = ContextLengths + sequences;
        ChunkIndices = BlockTables + (sequences * MaxPages);
        ChunkOffsets = ChunkIndices + (2 * chunks);
        Total = ChunkOffsets + sequences + 1;
    }
}
