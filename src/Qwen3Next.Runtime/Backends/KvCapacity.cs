namespace Qwen3Next.Backends;

/// <summary>The KV cache is preallocated per session; running past it is a caller error, reported before any write.</summary>
public static class KvCapacity
{
    public static void Check(KvCache cache, int tokens)
    {
        if (cache.Length + tokens > cache.Capacity)
        {
            throw new InvalidOperationException(
                $"KV cache holds {cache.Capacity} tokens; {cache.Length} are cached and {tokens} more were given. Create the session with a larger maximum length.");
        }
    }
}
