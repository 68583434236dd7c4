namespace Qwen3Next.Backends;

/// <summary>A float32 activation or state buffer owned by one backend (host memory for the
/// reference, device memory for ILGPU/PTX). Shapes are passed to each op explicitly.</summary>
public abstract class DeviceTensor : IDisposable
{
    protected DeviceTensor(long length) => Length = length;

    public long Length { get; }

    public abstract void Dispose();
}

/// <summary>A weight as the backend keeps it: a bf16 matrix <c>[rows, cols]</c> (y = x·Wᵀ) or a
/// float32 vector (norm weights, A_log, dt_bias), widened once at load time.</summary>
public abstract class DeviceWeight : IDisposable
{
    protected DeviceWeight(string name, int rows, int cols)
    {
        Name = name;
        Rows = rows;
        Cols = cols;
    }

    public string Name { get; }

    public int Rows { get; }

    public int Cols { get; }

    public long Length => (long)Rows * Cols;

    public abstract void Dispose();
}
