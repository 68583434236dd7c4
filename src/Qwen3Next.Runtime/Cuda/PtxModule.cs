namespace Qwen3Next.Cuda;

/// <summary>
/// One PTX module loaded through an <see cref="ICudaDriver"/> (on a GPU: JIT-compiled by the driver for the device,
/// in the ILGPU accelerator's context). Its kernels are valid until the module is disposed.
/// </summary>
internal sealed class PtxModule : IDisposable
{
    private readonly ICudaDriver driver;
    private readonly Dictionary<string, PtxKernel> kernels = new(StringComparer.Ordinal);
    private KernelModuleHandle? handle;

    private PtxModule(ICudaDriver driver, string name, KernelModuleHandle handle)
    {
        this.driver = driver;
        Name = name;
        this.handle = handle;
    }

    /// <summary>The module's name in messages, e.g. <c>basic/rmsnorm.ptx</c>.</summary>
    public string Name { get; }

    /// <summary>Loads PTX text (<c>cuModuleLoadDataEx</c>); a JIT failure throws <see cref="CudaDriverException"/> with the JIT log.</summary>
    public static PtxModule Load(ICudaDriver driver, string name, string ptx) => new(driver, name, driver.LoadModule(name, ptx));

    /// <summary>The kernel <paramref name="entry"/> (an <c>extern "C"</c> name) of this module.</summary>
    public PtxKernel GetKernel(string entry)
    {
        lock (kernels)
        {
            var module = handle ?? throw new ObjectDisposedException(nameof(PtxModule), $"Module {Name} is unloaded.");
            if (!kernels.TryGetValue(entry, out var kernel))
            {
                kernel = new PtxKernel(driver, Name, entry, driver.GetFunction(module, entry, $"kernel '{entry}' (module {Name})"));
                kernels[entry] = kernel;
            }

            return kernel;
        }
    }

    public void Dispose()
    {
        lock (kernels)
        {
            if (handle is { } module)
            {
                handle = null;
                kernels.Clear();
                driver.UnloadModule(module, $"module {Name}");
            }
        }
    }
}
