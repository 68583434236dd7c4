namespace Qwen3Next.Cuda;

/// <summary>
/// One entry of a loaded <see cref="PtxModule"/>. <see cref="Launch"/> validates the configuration against the sm_90
/// limits, opts the function into more than 48 KiB of dynamic shared memory when asked for it (once, remembering
/// the largest amount set), and enqueues the kernel on the given stream. It never synchronises.
/// </summary>
internal sealed class PtxKernel
{
    /// <summary>Dynamic shared memory a launch may use without opting in through the function attribute.</summary>
    public const int DefaultDynamicSharedBytes = 48 * 1024;

    private readonly ICudaDriver driver;
    private readonly FunctionHandle function;
    private readonly string subject;
    private int dynamicSharedOptIn = DefaultDynamicSharedBytes;

    internal PtxKernel(ICudaDriver driver, string moduleName, string name, FunctionHandle function)
    {
        this.driver = driver;
        this.function = function;
        Name = name;
        ModuleName = moduleName;
        subject = $"kernel '{name}' (module {moduleName})";
    }

    public string Name { get; }

    public string ModuleName { get; }

    public void Launch(StreamHandle stream, LaunchConfig config, KernelArguments arguments)
    {
        config.Validate(Name);
        if (config.DynamicSharedBytes > dynamicSharedOptIn)
        {
            driver.SetMaxDynamicSharedBytes(function, config.DynamicSharedBytes, subject);
            dynamicSharedOptIn = config.DynamicSharedBytes;
        }

        driver.Launch(function, config, arguments, stream, subject);
    }
}
