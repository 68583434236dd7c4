namespace Qwen3Next.PtxEmulator.Counters;

/// <summary>A set of 32-byte sector addresses (bitmaps per 64 KiB page), counting distinct sectors as they are added.</summary>
internal sealed class SectorSet
{
    private const int PageShift = 16;
    private readonly Dictionary<ulong, ulong[]> pages = [];
    private ulong lastPage = ulong.MaxValue;
    private ulong[]? lastBits;

    public long Count { get; private set; }

    /// <summary>The start address of every sector in the set.</summary>
    public IEnumerable<ulong> Sectors()
    {
        foreach (var (page, bits) in pages)
        {
            for (int word = 0; word < bits.Length; word++)
            {
                for (ulong m = bits[word]; m != 0; m &= m - 1)
                {
                    int sector = (word << 6) + System.Numerics.BitOperations.TrailingZeroCount(m);
                    yield return (page << PageShift) + ((ulong)sector << 5);
                }
            }
        }
    }

    public void Add(ulong address)
    {
        ulong page = address >> PageShift;
        if (page != lastPage)
        {
            if (!pages.TryGetValue(page, out lastBits))
            {
                lastBits = new ulong[(1 << PageShift) / 32 / 64];
                pages[page] = lastBits;
            }

            lastPage = page;
        }

        int sector = (int)((address >> 5) & ((1 << (PageShift - 5)) - 1));
        ulong bit = 1ul << (sector & 63);
        ref ulong word = ref lastBits![sector >> 6];
        if ((word & bit) == 0)
        {
            word |= bit;
            Count++;
        }
    }
}
