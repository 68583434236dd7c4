using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;

namespace Qwen3Next.Cuda;

/// <summary>
/// <see cref="ICudaDriver"/> on the PTX emulator: the ptx backend's launchers, argument packing, launch
/// configurations, dynamic shared memory, streams, events, copies, memsets, mapped host memory and graph
/// capture/replay run unchanged on the CPU, and each launch executes the kernel's PTX (the exact text a GPU would
/// JIT) with the emulator's sanitizer. A launch with findings throws <see cref="PtxKernelFaultException"/>.
/// </summary>
internal sealed class EmulatedCudaDriver(EmulatedGpu gpu) : HostMemoryDriver(new EmulatedDriverMemory(gpu.Memory))
{
    private readonly Dictionary<HostModule, EmulatedModule> modules = [];

    public EmulatedGpu Gpu { get; } = gpu;

    /// <summary>Stream work runs when the host needs it, so a missing cross-stream event shows.</summary>
    protected override bool DeferStreamWork => true;

    public override string Description
        => $"PTX emulator on the CPU (sanitizer {(Gpu.Options.Sanitize ? "on" : "off")}, counters {(Gpu.Options.Counters ? "on" : "off")})";

    protected override void RunKernel(HostFunction function, LaunchConfig config, ulong[] arguments)
    {
        EmulatedModule module;
        lock (modules)
        {
            if (!modules.TryGetValue(function.Module, out module!))
            {
                module = Gpu.LoadModule(function.Module.Ptx, function.Module.Name);
                modules[function.Module] = module;
            }
        }

        var kernel = module.GetKernel(function.Name);
        var packer = new KernelParameterPacker(kernel);
        for (int i = 0; i < arguments.Length; i++)
        {
            packer.Set(i, arguments[i], kernel.Parameters[i].Size);
        }

        var geometry = new LaunchGeometry(new Dim3(config.Grid.X, config.Grid.Y, config.Grid.Z),
            new Dim3(config.Block.X, config.Block.Y, config.Block.Z), config.DynamicSharedBytes);
        Gpu.Launch(kernel, geometry, packer.Bytes);
    }

    public override void Dispose()
    {
        lock (modules)
        {
            foreach (var module in modules.Values)
            {
                module.Dispose();
            }

            modules.Clear();
        }

        base.Dispose();
        Gpu.Dispose();
    }
}
