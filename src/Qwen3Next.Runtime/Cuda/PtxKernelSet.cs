namespace Qwen3Next.Cuda;

/// <summary>
/// The embedded kernels loaded through one driver: each module is loaded the first time one of its kernels is asked
/// for and stays loaded until the set is disposed.
/// </summary>
internal sealed class PtxKernelSet : IDisposable
{
    private readonly ICudaDriver driver;
    private readonly Dictionary<string, PtxModule> modules = new(StringComparer.Ordinal);

    public PtxKernelSet(ICudaDriver driver, PtxCatalog catalog)
    {
        catalog.EnsureAvailable();
        this.driver = driver;
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
                    module = PtxModule.Load(driver, info.Name, Catalog.ReadText(info));
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
