namespace Qwen3Next.Backends;

/// <summary>A float32 activation or state buffer owned by one backend (host memory for the
/// reference, device memory for ILGPU/PTX). Shapes are passed to each op explicitly.</summary>
public abstract class DeviceTensor : IDisposable
{
    private int disposed;

    protected DeviceTensor(long length) => Length = length;

    public long Length { get; }

    /// <summary>Set by <see cref="Dispose"/>; every op refuses a disposed tensor with <see cref="ObjectDisposedException"/>.</summary>
    public bool IsDisposed => Volatile.Read(ref disposed) != 0;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            Release();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the memory; called once, by the first <see cref="Dispose"/>.</summary>
    protected abstract void Release();
}

/// <summary>A weight as the backend keeps it: a bf16 matrix <c>[rows, cols]</c> (y = x·Wᵀ) or a
/// float32 vector (norm weights, A_log, dt_bias), widened once at load time.</summary>
public abstract class DeviceWeight : IDisposable
{
    private int disposed;

    protected DeviceWeight(string name, int rows, int cols, bool isMatrix)
    {
        Name = name;
        Rows = rows;
        Cols = cols;
        IsMatrix = isMatrix;
    }

    public string Name { get; }

    public int Rows { get; }

    public int Cols { get; }

    public long Length => (long)Rows * Cols;

    /// <summary>A bf16 matrix (true) or a float32 vector <c>[1, Cols]</c> (false); a <c>[1, H]</c> matrix is still a matrix.</summary>
    public bool IsMatrix { get; }

    public bool IsDisposed => Volatile.Read(ref disposed) != 0;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            Release();
        }

        GC.SuppressFinalize(this);
    }

    protected abstract void Release();
}
