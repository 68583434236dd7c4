namespace Qwen3Next.Backends;

/// <summary>
/// The threading rule of a backend: one thread at a time may use it (ops, allocation, copies), because the
/// backend's workspaces, kernel argument buffers and its one compute stream are shared by every call.
/// Callers that share a backend serialise on <see cref="Gate"/> (<see cref="Graph.Qwen3NextModel"/> does, so any
/// number of threads may run sessions on one model); a call that overlaps another thread's call is refused with
/// <see cref="InvalidOperationException"/> before it touches anything, and any call after <see cref="MarkDisposed"/>
/// with <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed class BackendAccess(string backend)
{
    private int owner;
    private int depth;
    private int disposed;

    /// <summary>The lock that callers sharing this backend take around each sequence of calls (a forward pass).</summary>
    public Lock Gate { get; } = new();

    public bool IsDisposed => Volatile.Read(ref disposed) != 0;

    public void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, $"the {backend} backend");

    public void MarkDisposed() => Volatile.Write(ref disposed, 1);

    /// <summary>Claims the backend for this thread until the returned scope is disposed; nested calls on the same
    /// thread (an op family calling another) are allowed.</summary>
    public Scope Enter()
    {
        ThrowIfDisposed();
        int me = Environment.CurrentManagedThreadId;
        int current = Interlocked.CompareExchange(ref owner, me, 0);
        if (current != 0 && current != me)
        {
            throw new InvalidOperationException(
                $"The {backend} backend is in use by another thread: a backend runs one call at a time. Share it through one Qwen3NextModel "
                + "(it serialises forward passes) or lock BackendAccess.Gate around your own calls.");
        }

        depth++;
        return new Scope(this);
    }

    private void Exit()
    {
        if (--depth == 0)
        {
            Volatile.Write(ref owner, 0);
        }
    }

    /// <summary>Releases the claim of one <see cref="Enter"/>.</summary>
    public readonly struct Scope(BackendAccess access) : IDisposable
    {
        public void Dispose() => access?.Exit();
    }
}
