using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Tests.Ops.Attention;

/// <summary>
/// A paged bf16 KV cache in the batching layout: pools <c>[num_pages, Hkv, page_size, D]</c> and
/// <c>block_tables [B, max_pages]</c>. Pages are handed out in a shuffled order (so a kernel that assumes
/// consecutive pages fails), unused table entries are -1, and every cache row no sequence owns holds NaN, so a
/// kernel that reads past a sequence's context or into another sequence's page poisons its output.
/// </summary>
internal sealed class PagedBf16Cache
{
    private const ushort NaN = 0x7FC0;

    private PagedBf16Cache(ushort[] keys, ushort[] values, int[] blockTables, int maxPages, int pageSize)
    {
        Keys = keys;
        Values = values;
        BlockTables = blockTables;
        MaxPages = maxPages;
        PageSize = pageSize;
    }

    public ushort[] Keys { get; }

    public ushort[] Values { get; }

    public int[] BlockTables { get; }

    public int MaxPages { get; }

    public int PageSize { get; }

    /// <summary>Sequence b's keys and values are fp32 <c>[Hkv, lengths[b], D]</c>, rounded to bf16 here.</summary>
    public static PagedBf16Cache Build(IReadOnlyList<float[]> keys, IReadOnlyList<float[]> values, int[] lengths, int kvHeads, int headDim,
        int pageSize, Random random)
    {
        int sequences = lengths.Length;
        var pagesOf = lengths.Select(l => (l + pageSize - 1) / pageSize).ToArray();
        int maxPages = Math.Max(1, pagesOf.Max() + 1);
        int numPages = pagesOf.Sum() + 2;
        var order = Enumerable.Range(0, numPages).OrderBy(_ => random.Next()).ToArray();
        var tables = Enumerable.Repeat(-1, sequences * maxPages).ToArray();
        var k = Enumerable.Repeat(NaN, numPages * kvHeads * pageSize * headDim).ToArray();
        var v = (ushort[])k.Clone();
        int next = 0;
        for (int b = 0; b < sequences; b++)
        {
            for (int p = 0; p < pagesOf[b]; p++)
            {
                tables[(b * maxPages) + p] = order[next++];
            }

            for (int j = 0; j < kvHeads; j++)
            {
                for (int pos = 0; pos < lengths[b]; pos++)
                {
                    int page = tables[(b * maxPages) + (pos / pageSize)];
                    long row = ((((long)page * kvHeads) + j) * pageSize) + (pos % pageSize);
                    for (int i = 0; i < headDim; i++)
                    {
                        long from = ((((long)j * lengths[b]) + pos) * headDim) + i;
                        k[(row * headDim) + i] = Bf16.FromFloat(keys[b][from]);
                        v[(row * headDim) + i] = Bf16.FromFloat(values[b][from]);
                    }
                }
            }
        }

        return new PagedBf16Cache(k, v, tables, maxPages, pageSize);
    }
}
