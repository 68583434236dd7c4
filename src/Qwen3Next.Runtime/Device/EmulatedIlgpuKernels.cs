using System.Reflection;
using ILGPU;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Execution;

namespace Qwen3Next.Device;

/// <summary>
/// ILGPU kernels run as the PTX ILGPU emits for CUDA (sm_90, fast 32-bit math) on the PTX emulator, with ILGPU's
/// parameter layout: an implicitly grouped kernel takes its extent first; an array view is 16 bytes (address,
/// length); scalars and structs as laid out in memory. Buffers stay ILGPU CPU-accelerator buffers: each launch
/// registers the extent of every view it passes with the emulator, so an access outside a view is a finding.
/// </summary>
internal sealed class EmulatedIlgpuKernels : IDisposable
{
    /// <summary>Threads per group for implicitly grouped kernels (ILGPU picks a group size itself on CUDA).</summary>
    public const int ImplicitGroupSize = 256;

    private readonly IlgpuPtxCompiler compiler = new();
    private readonly List<EmulatedModule> modules = [];

    public EmulatedIlgpuKernels(EmulatedGpu gpu) => Gpu = gpu;

    public EmulatedGpu Gpu { get; }

    public TLauncher Create<TLauncher>(MethodInfo method) where TLauncher : Delegate
    {
        var compiled = compiler.Compile(method);
        var module = Gpu.LoadModule(compiled.Ptx, compiled.Name);
        lock (modules)
        {
            modules.Add(module);
        }

        var kernel = module.GetKernel(module.KernelNames.Single());
        bool implicitlyGrouped = IlgpuPtxExport.IsImplicitlyGrouped(method);
        return IlgpuKernelLoader.Forward<TLauncher>((dims, arguments) => Launch(kernel, implicitlyGrouped, dims, arguments));
    }

    private void Launch(DecodedKernel kernel, bool implicitlyGrouped, object dims, IlgpuKernelArgument[] arguments)
    {
        var packer = new KernelParameterPacker(kernel);
        int index = 0;
        LaunchGeometry geometry;
        if (implicitlyGrouped)
        {
            int extent = dims is Index1D i1 ? i1.X : throw new NotSupportedException($"{kernel.Name}: only Index1D implicitly grouped kernels run on the emulator.");
            if (extent <= 0)
            {
                return;
            }

            packer.Set(index++, extent);
            geometry = new LaunchGeometry((extent + ImplicitGroupSize - 1) / ImplicitGroupSize, ImplicitGroupSize);
        }
        else
        {
            var config = (KernelConfig)dims;
            if (config.UsesDynamicSharedMemory)
            {
                throw new NotSupportedException($"{kernel.Name}: ILGPU dynamic shared memory is not supported on the emulator.");
            }

            geometry = new LaunchGeometry(new Dim3(config.GridDim.X, config.GridDim.Y, config.GridDim.Z),
                new Dim3(config.GroupDim.X, config.GroupDim.Y, config.GroupDim.Z));
        }

        var registered = new List<ulong>();
        try
        {
            Span<byte> view = stackalloc byte[16];
            foreach (var argument in arguments)
            {
                if (argument.IsView)
                {
                    if (argument.Bytes > 0)
                    {
                        registered.Add(Gpu.Memory.RegisterExternal(argument.Address, argument.Bytes, $"{kernel.Name} argument {index}").Start);
                    }

                    BitConverter.TryWriteBytes(view[..8], (ulong)argument.Address);
                    BitConverter.TryWriteBytes(view[8..], argument.Length);
                    packer.SetBytes(index++, view);
                }
                else if (argument.StructBytes is { } bytes)
                {
                    packer.SetBytes(index++, bytes);
                }
                else
                {
                    packer.Set(index++, argument.Bits, argument.Size);
                }
            }

            Gpu.Launch(kernel, geometry, packer.Bytes);
        }
        finally
        {
            foreach (ulong address in registered)
            {
                Gpu.Memory.Free(address);
            }
        }
    }

    public void Dispose()
    {
        lock (modules)
        {
            foreach (var m in modules)
            {
                m.Dispose();
            }

            modules.Clear();
        }

        compiler.Dispose();
        Gpu.Dispose();
    }
}
