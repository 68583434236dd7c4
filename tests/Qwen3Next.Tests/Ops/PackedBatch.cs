namespace Qwen3Next.Tests.Ops;

/// <summary>
/// A packed variable-length batch (kernels/README.md, batching conventions): sequence b has
/// <see cref="Cached"/>[b] tokens already in its state or cache and <see cref="New"/>[b] tokens in this batch,
/// concatenated in sequence order; <c>cu_seqlens</c> [B+1]; after the step sequence b holds Cached[b] + New[b] tokens.
/// </summary>
public sealed record PackedBatch(int[] Cached, int[] New)
{
    public int Sequences => New.Length;

    public int Tokens => New.Sum();

    public int MaxNew => New.Max();

    public int[] CuSeqlens
    {
        get
        {
            var cu = new int[New.Length + 1];
            for (int b = 0; b < New.Length; b++)
            {
                cu[b + 1] = cu[b] + New[b];
            }

            return cu;
        }
    }

    /// <summary>Single sequences: <c>PackedBatch.Of((cached, new), …)</c>.</summary>
    public static PackedBatch Of(params (int Cached, int New)[] sequences) => new([.. sequences.Select(s => s.Cached)], [.. sequences.Select(s => s.New)]);

    public override string ToString() => string.Join(" ", Enumerable.Range(0, Sequences).Select(b => $"{Cached[b]}+{New[b]}"));
}
