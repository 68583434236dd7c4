using ILGPU.Runtime.Cuda;
using Qwen3Next.Device;

namespace Qwen3Next.Cuda;

/// <summary>
/// One PTX module loaded into the context of a CUDA <see cref="ComputeDevice"/> (the ILGPU accelerator's context),
/// JIT-compiled by the driver for the device. Its kernels are valid until the module is disposed.
/// </summary>
public sealed class PtxModule : IDisposable
{
    private readonly Dictionary<string, PtxKernel> kernels = new(StringComparer.Ordinal);
    private IntPtr handle;

    private PtxModule(CudaAccelerator accelerator, string name, IntPtr handle)
    {
        Accelerator = accelerator;
        Name = name;
        this.handle = handle;
    }

    /// <summary>The module's name in messages, e.g. <c>basic/rmsnorm.ptx</c>.</summary>
    public string Name { get; }

    internal CudaAccelerator Accelerator { get; }

    /// <summary>Loads PTX text (<c>cuModuleLoadDataEx</c>); a JIT failure throws <see cref="CudaDriverException"/> with the JIT log.</summary>
    public static PtxModule Load(ComputeDevice device, string name, string ptx)
    {
        var accelerator = CudaOf(device, name);
        string subject = $"module {name}";
        CudaDriver.MakeCurrent(accelerator, subject);
        return new PtxModule(accelerator, name, CudaDriver.LoadModule(ptx, subject));
    }

    /// <summary>Loads the embedded module of <paramref name="catalog"/> that defines <paramref name="kernel"/>.</summary>
    public static PtxModule LoadContaining(ComputeDevice device, PtxCatalog catalog, string kernel)
    {
        var module = catalog.ModuleOf(kernel);
        return Load(device, module.Name, catalog.ReadText(module));
    }

    /// <summary>The kernel <paramref name="entry"/> (an <c>extern "C"</c> name) of this module.</summary>
    public PtxKernel GetKernel(string entry)
    {
        ObjectDisposedException.ThrowIf(handle == IntPtr.Zero, this);
        lock (kernels)
        {
            if (!kernels.TryGetValue(entry, out var kernel))
            {
                kernel = new PtxKernel(this, entry, CudaDriver.GetFunction(handle, entry, $"kernel '{entry}' (module {Name})"));
                kernels[entry] = kernel;
            }

            return kernel;
        }
    }

    internal static CudaAccelerator CudaOf(ComputeDevice device, string what) => device.Accelerator as CudaAccelerator
        ?? throw new NotSupportedException($"{what}: PTX runs only on a CUDA accelerator, not on {device.Accelerator.AcceleratorType}.");

    public void Dispose()
    {
        if (handle != IntPtr.Zero)
        {
            CudaDriver.UnloadModule(handle);
            handle = IntPtr.Zero;
        }
    }
}
