namespace Qwen3Next.PtxEmulator.Sanitizer;

/// <summary>
/// Per 4-byte word of a CTA's shared memory: the last writer and reader(s) with the barrier interval and warp-sync
/// epoch of the access. Owned by the device and reused by every launch: the interval counter only grows, so
/// entries of earlier CTAs and launches are stale without clearing.
/// </summary>
internal sealed class SharedShadow
{
    public int[] Writer { get; private set; } = [];

    public int[] WriterEpoch { get; private set; } = [];

    public int[] WriterSync { get; private set; } = [];

    public int[] Reader { get; private set; } = [];

    public int[] ReaderWarp { get; private set; } = [];

    public int[] ReaderEpoch { get; private set; } = [];

    public int[] ReaderSync { get; private set; } = [];

    /// <summary>The last barrier interval handed out (intervals start at 1, so a zeroed entry is never current).</summary>
    public int Epoch { get; private set; }

    public int NextEpoch() => ++Epoch;

    /// <summary>Makes room for <paramref name="words"/> words (new entries are zero: never current).</summary>
    public void Ensure(int words)
    {
        if (Writer.Length >= words)
        {
            return;
        }

        Writer = new int[words];
        WriterEpoch = new int[words];
        WriterSync = new int[words];
        Reader = new int[words];
        ReaderWarp = new int[words];
        ReaderEpoch = new int[words];
        ReaderSync = new int[words];
    }
}
