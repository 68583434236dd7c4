using System.Runtime.InteropServices;
using NUnit.Framework;
using Qwen3Next.Cuda;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;
using Qwen3Next.PtxEmulator.Memory;

namespace Qwen3Next.Tests.Ops;

/// <summary>
/// The shipped CUDA C kernels launched one by one on the PTX emulator (sanitizer on unless the options say
/// otherwise), for kernels tested directly against the C# references before a launcher uses them.
/// Arguments: a <see cref="MemoryRegion"/> (its address), a <c>ulong</c> address inside one, <c>null</c> (a NULL pointer), <c>int</c> or <c>float</c>.
/// </summary>
internal sealed class EmulatedPtxKernels(EmulatorOptions? options = null) : IDisposable
{
    public EmulatedGpu Gpu { get; } = new(options ?? EmulatorOptions.Default);

    public static PtxCatalog CatalogOrIgnore()
    {
        var catalog = PtxCatalog.Embedded;
        if (catalog.IsEmpty)
        {
            Assert.Ignore("No PTX is embedded: nvcc was not available when the runtime was built.");
        }

        return catalog;
    }

    public MemoryRegion Upload<T>(ReadOnlySpan<T> values, string name)
        where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values);
        var region = Gpu.Memory.Allocate(Math.Max(16, bytes.Length), name);
        Gpu.Memory.Write(region.Start, bytes, name);
        return region;
    }

    /// <summary>Uninitialised device memory (the sanitizer reports any read before a write).</summary>
    public MemoryRegion Allocate<T>(long count, string name)
        where T : unmanaged
        => Gpu.Memory.Allocate(Math.Max(16, count * Marshal.SizeOf<T>()), name);

    public T[] Download<T>(MemoryRegion region, long count)
        where T : unmanaged
    {
        var result = new T[count];
        Gpu.Memory.Read(region.Start, MemoryMarshal.AsBytes(result.AsSpan()), region.Name);
        return result;
    }

    /// <summary>Launches with a runtime launch configuration (the launcher's grid, block and shared memory).</summary>
    public LaunchResult Launch(string kernelName, LaunchConfig config, params object?[] arguments)
        => Launch(kernelName, new LaunchGeometry(new Dim3(config.Grid.X, config.Grid.Y, config.Grid.Z), new Dim3(config.Block.X, config.Block.Y, config.Block.Z),
            config.DynamicSharedBytes), arguments);

    public LaunchResult Launch(string kernelName, LaunchGeometry geometry, params object?[] arguments)
    {
        var catalog = CatalogOrIgnore();
        var info = catalog.ModuleOf(kernelName);
        var kernel = Gpu.LoadModule(catalog.ReadText(info), info.Name).GetKernel(kernelName);
        var packer = new KernelParameterPacker(kernel);
        for (int i = 0; i < arguments.Length; i++)
        {
            switch (arguments[i])
            {
                case MemoryRegion region:
                    packer.Set(i, region.Start, 8);
                    break;
                case ulong address:
                    packer.Set(i, address, 8);
                    break;
                case null:
                    packer.Set(i, 0ul, 8);
                    break;
                case int value:
                    packer.Set(i, value);
                    break;
                case float value:
                    packer.Set(i, value);
                    break;
                default:
                    throw new ArgumentException($"argument {i} of {kernelName} has an unsupported type {arguments[i]!.GetType()}");
            }
        }

        return Gpu.Launch(kernel, geometry, packer.Bytes);
    }

    public void Dispose() => Gpu.Dispose();
}
