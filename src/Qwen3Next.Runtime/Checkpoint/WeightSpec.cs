namespace Qwen3Next.Checkpoint;

/// <summary>
/// One tensor the model needs. <see cref="DimSources"/> says, for each dimension, which
/// config keys determine it, so a shape mismatch can name the key that contradicts the weights.
/// </summary>
public sealed record WeightSpec(string Name, long[] Shape, IReadOnlyList<string> DimSources, bool IsSmallVector)
{
    public long ElementCount => Shape.Aggregate(1L, (product, dim) => product * dim);
}
