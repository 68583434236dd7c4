using Qwen3Next.Device;

namespace Qwen3Next.Cuda;

/// <summary>
/// The embedded kernels loaded on one CUDA device: each module is loaded the first time one of its kernels is asked
/// for and stays loaded until the set is disposed.
/// </summary>
public sealed class PtxKernelSet : IDisposable
{
    private readonly ComputeDevice device;
    private readonly Dictionary<string, PtxModule> modules = new(StringComparer.Ordinal);

    public PtxKernelSet(ComputeDevice device, PtxCatalog catalog)
    {
        catalog.EnsureAvailable();
        PtxModule.CudaOf(device, "PtxKernelSet");
        this.device = device;
        Catalog = catalog;
    }

    public PtxCatalog Catalog { get; }

    public PtxKernel this[string kernel]
    {
        get
        {
            var info = Catalog.ModuleOf(kernel);
            lock (modules)
            {
                if (!modules.TryGetValue(info.Name, out var module))
                {
                    module = PtxModule.Load(device, info.Name, Catalog.ReadText(info));
                    modules[info.Name] = module;
                }

                return module.GetKernel(kernel);
            }
        }
    }

    public void Dispose()
    {
        lock (modules)
        {
            foreach (var module in modules.Values)
            {
                module.Dispose();
            }

            modules.Clear();
        }
    }
}
