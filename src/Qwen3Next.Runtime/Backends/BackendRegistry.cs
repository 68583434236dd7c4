using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Backends.Reference;
using Qwen3Next.Device;
using Qwen3Next.PtxEmulator;

namespace Qwen3Next.Backends;

/// <summary>Creates a backend by its command-line name.</summary>
public static class BackendRegistry
{
    public static IReadOnlyList<string> Names { get; } = ["reference", "ilgpu", "ilgpu-cpu", "ilgpu-emu", "ptx", "ptx-emu"];

    /// <summary>Creates <paramref name="name"/>; the emulated backends run under <paramref name="emulator"/> (default:
    /// sanitizer on, counters off).</summary>
    public static IKernelBackend Create(string name, EmulatorOptions? emulator) => name switch
    {
        "ptx-emu" => PtxBackend.CreateEmulated(emulator),
        "ilgpu-emu" => IlgpuBackend.CreateEmulated(emulator),
        _ => Create(name),
    };

    /// <summary>The emulator under an emulated backend, or null.</summary>
    public static EmulatedGpu? EmulatorOf(IKernelBackend backend) => backend switch
    {
        PtxBackend ptx => ptx.Emulator,
        IlgpuBackend ilgpu => ilgpu.Emulator,
        _ => null,
    };

    public static IKernelBackend Create(string name) => name switch
    {
        "reference" => new ReferenceBackend(),
        "ilgpu" => IlgpuBackend.Create(DeviceKind.Auto),
        "ilgpu-cpu" => IlgpuBackend.Create(DeviceKind.Cpu),
        "ilgpu-emu" => IlgpuBackend.CreateEmulated(),
        "ptx" => PtxBackend.Create(),
        "ptx-emu" => PtxBackend.CreateEmulated(),
        _ => throw new ArgumentException($"Unknown backend '{name}'. Known: {string.Join(", ", Names)}."),
    };
}
