using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Qwen3Next.Device;

namespace Qwen3Next.Cuda;

/// <summary>A CUDA event for GPU-side timing and stream ordering (<c>cuEventRecord</c> / <c>cuEventElapsedTime</c>).</summary>
public sealed class CudaEvent : IDisposable
{
    private IntPtr handle;

    private CudaEvent(IntPtr handle) => this.handle = handle;

    public static CudaEvent Create(ComputeDevice device, bool timing = true)
    {
        var accelerator = device.Accelerator as CudaAccelerator
            ?? throw new NotSupportedException($"A CUDA event needs a CUDA accelerator, not {device.Accelerator.AcceleratorType}.");
        CudaDriver.MakeCurrent(accelerator, "an event");
        return new CudaEvent(CudaDriver.CreateEvent(timing, "an event"));
    }

    /// <summary>Enqueues the event on <paramref name="stream"/>.</summary>
    public void Record(AcceleratorStream stream) => CudaDriver.RecordEvent(Handle, CudaDriver.StreamOf(stream), "an event");

    /// <summary>Makes work queued later on <paramref name="stream"/> wait, on the device, until this event has passed:
    /// the copy-stream → compute-stream hand-off without a host synchronisation.</summary>
    public void MakeWait(AcceleratorStream stream) => CudaDriver.StreamWaitEvent(CudaDriver.StreamOf(stream), Handle, "an event");

    /// <summary>Blocks the host until the work recorded before the event has finished.</summary>
    public void Synchronize() => CudaDriver.SynchronizeEvent(Handle, "an event");

    /// <summary>GPU time between two recorded events, in milliseconds (the end event must have completed).</summary>
    public static float ElapsedMilliseconds(CudaEvent start, CudaEvent end)
        => CudaDriver.ElapsedMilliseconds(start.Handle, end.Handle, "an event pair");

    private IntPtr Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(handle == IntPtr.Zero, this);
            return handle;
        }
    }

    public void Dispose()
    {
        if (handle != IntPtr.Zero)
        {
            CudaDriver.DestroyEvent(handle);
            handle = IntPtr.Zero;
        }
    }
}
