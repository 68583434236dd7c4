namespace Qwen3Next.Streaming;

/// <summary>One routed expert of one layer.</summary>
public readonly record struct ExpertKey(int Layer, int Expert);

/// <summary>Chooses which cached expert to evict. Implementations see every use and every eviction.</summary>
public interface IExpertReplacementPolicy
{
    void Used(ExpertKey key);

    void Removed(ExpertKey key);

    /// <summary>The victim among <paramref name="candidates"/> (resident experts not needed by the current layer).</summary>
    ExpertKey ChooseVictim(IReadOnlyCollection<ExpertKey> candidates);
}

/// <summary>Least recently used: evict the expert whose last use is oldest.</summary>
public sealed class LruReplacementPolicy : IExpertReplacementPolicy
{
    private readonly Dictionary<ExpertKey, long> lastUse = [];
    private long clock;

    public void Used(ExpertKey key) => lastUse[key] = ++clock;

    public void Removed(ExpertKey key) => lastUse.Remove(key);

    public ExpertKey ChooseVictim(IReadOnlyCollection<ExpertKey> candidates)
        => candidates.MinBy(k => lastUse.TryGetValue(k, out long t) ? t : long.MinValue);
}
