using System.Runtime.CompilerServices;

namespace Qwen3Next.Cuda;

/// <summary>
/// A device allocation of <see cref="Length"/> elements owned through an <see cref="ICudaDriver"/> and freed on
/// dispose. Not initialised: the owner clears or fills it on a stream.
/// </summary>
internal sealed class DeviceBuffer<T> : IDisposable where T : unmanaged
{
    private readonly ICudaDriver driver;
    private readonly string subject;
    private DevicePointer pointer;

    private DeviceBuffer(ICudaDriver driver, DevicePointer pointer, long length, string subject)
    {
        this.driver = driver;
        this.pointer = pointer;
        this.subject = subject;
        Length = length;
    }

    /// <param name="what">What the buffer holds, for driver errors (e.g. <c>weight 'model.norm.weight'</c>).</param>
    public static DeviceBuffer<T> Allocate(ICudaDriver driver, long length, string what)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        return new DeviceBuffer<T>(driver, driver.Allocate(checked(length * Unsafe.SizeOf<T>()), what), length, what);
    }

    public long Length { get; }

    public DeviceSpan<T> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(pointer.IsNull, this);
            return new DeviceSpan<T>(pointer, Length);
        }
    }

    public void Dispose()
    {
        if (!pointer.IsNull)
        {
            var owned = pointer;
            pointer = DevicePointer.Null;
            driver.Free(owned, subject);
        }
    }
}
