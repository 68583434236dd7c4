namespace Qwen3Next.PtxEmulator.Sanitizer;

/// <summary>
/// Per 4-byte word of one region: the last block that wrote it and the block(s) that read it, tagged with the
/// launch epoch so entries of earlier launches are stale without clearing. Reader entries also flag a read through
/// the non-coherent (<c>ld.global.nc</c>) path. Created lazily, only when the sanitizer is on.
/// </summary>
internal sealed class GlobalShadow(long regionBytes)
{
    public const long MultipleReaders = 1L << 30;
    public const long NonCoherentRead = 1L << 31;

    /// <summary>On a writer entry: the write was morally strong (volatile, or relaxed/release at gpu or sys scope).</summary>
    public const long StrongWrite = 1L << 31;
    public const long BlockMask = (1L << 30) - 1;

    public long[] Writer { get; } = new long[(regionBytes + 3) / 4];

    public long[] Reader { get; } = new long[(regionBytes + 3) / 4];

    /// <summary>The thread (launch-wide id + 1, or -1 for several) that read each word through the non-coherent
    /// path; meaningful only while the word's reader entry carries <see cref="NonCoherentRead"/> for this launch.</summary>
    public long[] NonCoherentReader => nonCoherentReader ??= new long[Reader.Length];

    private long[]? nonCoherentReader;
}
