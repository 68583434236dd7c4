using ILGPU.Runtime;

namespace Qwen3Next.Cuda;

/// <summary>
/// One entry of a loaded <see cref="PtxModule"/>. <see cref="Launch"/> validates the configuration against the sm_90
/// limits, opts the function into more than 48 KiB of dynamic shared memory when asked for it (once, remembering
/// the largest amount set), and enqueues the kernel on the given CUDA stream. It never synchronises.
/// </summary>
public sealed class PtxKernel
{
    private readonly PtxModule module;
    private readonly IntPtr function;
    private int dynamicSharedOptIn = CudaDriver.DefaultDynamicSharedBytes;

    internal PtxKernel(PtxModule module, string name, IntPtr function)
    {
        this.module = module;
        this.function = function;
        Name = name;
    }

    public string Name { get; }

    public string ModuleName => module.Name;

    public void Launch(AcceleratorStream stream, LaunchConfig config, KernelArguments arguments)
    {
        config.Validate(Name);
        string subject = $"kernel '{Name}' (module {module.Name}, {config})";
        CudaDriver.MakeCurrent(module.Accelerator, subject);
        if (config.DynamicSharedBytes > dynamicSharedOptIn)
        {
            CudaDriver.SetMaxDynamicSharedBytes(function, config.DynamicSharedBytes, subject);
            dynamicSharedOptIn = config.DynamicSharedBytes;
        }

        arguments.Launch(function, config, CudaDriver.StreamOf(stream), subject);
    }
}
