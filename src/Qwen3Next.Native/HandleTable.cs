using System.Collections.Concurrent;

namespace Qwen3Next.Native;

/// <summary>
/// Objects handed to C as 64-bit handles (never 0, never reused). A handle that was freed or never issued is an
/// <see cref="InvalidHandleException"/>, not a crash, which raw GCHandle pointers could not promise.
/// </summary>
internal static class HandleTable
{
    private static readonly ConcurrentDictionary<ulong, object> Live = new();
    private static long next;

    public static ulong Add(object item)
    {
        ulong handle = (ulong)Interlocked.Increment(ref next);
        Live[handle] = item;
        return handle;
    }

    public static T Get<T>(ulong handle, string what)
        where T : class =>
        Live.TryGetValue(handle, out var item) && item is T typed
            ? typed
            : throw new InvalidHandleException($"{handle} is not a live {what} handle (never created, already freed, or a handle of another kind).");

    public static T Remove<T>(ulong handle, string what)
        where T : class
    {
        var item = Get<T>(handle, what);
        return Live.TryRemove(new KeyValuePair<ulong, object>(handle, item)) ? item
            : throw new InvalidHandleException($"{handle} is not a live {what} handle (freed by another thread).");
    }
}
