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
    /// sanitizer on, counters off). <paramref name="precision"/> null is the backend's default
    /// (<see cref="PrecisionModes.DefaultFor"/>); a mode the backend lacks is an <see cref="ArgumentException"/>.</summary>
    public static IKernelBackend Create(string name, EmulatorOptions? emulator, Precision? precision = null)
    {
        var mode = CheckPrecision(name, precision);
        return name switch
        {
            "ptx-emu" => PtxBackend.CreateEmulated(emulator, mode),
            "ilgpu-emu" => IlgpuBackend.CreateEmulated(emulator),
            _ => Create(name, mode),
        };
    }

    /// <summary>The emulator under an emulated backend, or null.</summary>
    public static EmulatedGpu? EmulatorOf(IKernelBackend backend) => backend switch
    {
        PtxBackend ptx => ptx.Emulator,
        IlgpuBackend ilgpu => ilgpu.Emulator,
        _ => null,
    };

    public static IKernelBackend Create(string name) => Create(name, (Precision?)null);

    public static IKernelBackend Create(string name, Precision? precision)
    {
        var mode = CheckPrecision(name, precision);
        return name switch
        {
            "reference" => new ReferenceBackend(),
            "ilgpu" => IlgpuBackend.Create(DeviceKind.Auto),
            "ilgpu-cpu" => IlgpuBackend.Create(DeviceKind.Cpu),
            "ilgpu-emu" => IlgpuBackend.CreateEmulated(),
            "ptx" => PtxBackend.Create(mode),
            "ptx-emu" => PtxBackend.CreateEmulated(precision: mode),
            _ => throw UnknownBackend(name),
        };
    }

    private static Precision CheckPrecision(string name, Precision? precision)
    {
        if (!Names.Contains(name))
        {
            throw UnknownBackend(name);
        }

        var mode = precision ?? PrecisionModes.DefaultFor(name);
        if (!PrecisionModes.Supports(name, mode))
        {
            throw new ArgumentException($"The {name} backend has no {mode.Name()} precision mode (only the ptx backends do); use --precision exact.");
        }

        return mode;
    }

    private static ArgumentException UnknownBackend(string name) => new($"Unknown backend '{name}'. Known: {string.Join(", ", Names)}.");
}
