using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Backends.Reference;
using Qwen3Next.Device;

namespace Qwen3Next.Backends;

/// <summary>Creates a backend by its command-line name.</summary>
public static class BackendRegistry
{
    public static IReadOnlyList<string> Names { get; } = ["reference", "ilgpu", "ilgpu-cpu", "ilgpu-emu", "ptx", "ptx-emu"];

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
