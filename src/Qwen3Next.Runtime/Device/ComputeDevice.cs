using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Qwen3Next.Device;

public enum DeviceKind
{
    /// <summary>CUDA when a device and driver are present, else the CPU accelerator.</summary>
    Auto,
    Cuda,

    /// <summary>ILGPU's CPU accelerator with 32-wide warps, so warp-level kernels behave as on NVIDIA hardware.</summary>
    Cpu,
}

/// <summary>
/// The one place that owns the ILGPU context, the accelerator and its streams. Kernels run on
/// <see cref="Compute"/>; weight uploads go on <see cref="Copy"/> so the streaming executor can overlap them.
/// The CUDA driver layer (PTX modules, events, pinned memory) binds to the same context.
/// </summary>
public sealed class ComputeDevice : IDisposable
{
    private ComputeDevice(Context context, Accelerator accelerator)
    {
        Context = context;
        Accelerator = accelerator;
        Compute = accelerator.DefaultStream;
        Copy = accelerator.CreateStream();
    }

    public Context Context { get; }

    public Accelerator Accelerator { get; }

    public AcceleratorStream Compute { get; }

    public AcceleratorStream Copy { get; }

    public bool IsCuda => Accelerator.AcceleratorType == AcceleratorType.Cuda;

    public string Description => $"{Accelerator.Name} ({Accelerator.AcceleratorType}, warp {Accelerator.WarpSize}, {Accelerator.MemorySize / (1 << 20)} MiB)";

    public static ComputeDevice Create(DeviceKind kind = DeviceKind.Auto)
    {
        var context = Context.Create(builder =>
        {
            builder.Optimize(OptimizationLevel.O2).Math(MathMode.Fast32BitOnly).EnableAlgorithms();
            if (kind != DeviceKind.Cpu)
            {
                builder.Cuda();
            }

            builder.CPU(CPUDeviceKind.Nvidia);
        });
        try
        {
            var cuda = context.GetCudaDevices();
            if (kind == DeviceKind.Cuda && cuda.Count == 0)
            {
                throw new NotSupportedException("No CUDA device was found (is the NVIDIA driver installed and libcuda on the library path?).");
            }

            Accelerator accelerator = kind != DeviceKind.Cpu && cuda.Count > 0
                ? cuda[0].CreateAccelerator(context)
                : context.GetCPUDevice(0).CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel);
            return new ComputeDevice(context, accelerator);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    public void Synchronize() => Accelerator.Synchronize();

    public void Dispose()
    {
        Copy.Dispose();
        Accelerator.Dispose();
        Context.Dispose();
    }
}
