using System.Linq.Expressions;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;

namespace Qwen3Next.Device;

/// <summary>
/// Where the ILGPU op families get their kernels: ILGPU's own loaders (CUDA or the CPU accelerator), or — on the
/// emulated backend — the kernel's PTX, as ILGPU compiles it for CUDA, running on the PTX emulator. Both give the
/// same delegate type, so launchers do not know which one they call.
/// </summary>
public sealed class IlgpuKernelLoader
{
    private readonly Accelerator accelerator;
    private readonly EmulatedIlgpuKernels? emulated;

    internal IlgpuKernelLoader(Accelerator accelerator, EmulatedIlgpuKernels? emulated)
    {
        this.accelerator = accelerator;
        this.emulated = emulated;
    }

    /// <summary>
    /// Loads <paramref name="kernel"/> (a static kernel method) into <paramref name="launcher"/>, whose type is ILGPU's
    /// launcher type: <c>Action&lt;AcceleratorStream, KernelConfig, T1…&gt;</c> for an explicitly grouped kernel,
    /// <c>Action&lt;AcceleratorStream, Index1D, T1…&gt;</c> for an implicitly grouped one.
    /// </summary>
    public void Load<TLauncher>(out TLauncher launcher, Delegate kernel) where TLauncher : Delegate
    {
        var method = kernel.Method;
        launcher = emulated is null ? LoadWithIlgpu<TLauncher>(kernel) : emulated.Create<TLauncher>(method);
    }

    private TLauncher LoadWithIlgpu<TLauncher>(Delegate kernel) where TLauncher : Delegate
    {
        var kernelArguments = kernel.GetType().GetGenericArguments();
        string name = IlgpuPtxExport.IsImplicitlyGrouped(kernel.Method) ? nameof(KernelLoaders.LoadAutoGroupedKernel) : nameof(KernelLoaders.LoadKernel);
        var loader = typeof(KernelLoaders).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Single(m => m.Name == name && m.IsGenericMethodDefinition && m.GetGenericArguments().Length == kernelArguments.Length
                && m.GetParameters().Length == 2)
            .MakeGenericMethod(kernelArguments);
        return loader.Invoke(null, [accelerator, kernel]) as TLauncher
            ?? throw new InvalidOperationException($"ILGPU's {name} for {kernel.Method.Name} does not give a {typeof(TLauncher).Name}.");
    }

    /// <summary>Builds a <typeparamref name="TLauncher"/> that forwards (stream, dims, args…) to <paramref name="target"/>.</summary>
    internal static TLauncher Forward<TLauncher>(Action<object, IlgpuKernelArgument[]> target) where TLauncher : Delegate
    {
        var invoke = typeof(TLauncher).GetMethod("Invoke")!;
        var parameters = invoke.GetParameters().Select(p => Expression.Parameter(p.ParameterType, p.Name)).ToArray();
        var arguments = parameters.Skip(2).Select(IlgpuKernelArgument.Capture);
        var body = Expression.Invoke(Expression.Constant(target), Expression.Convert(parameters[1], typeof(object)),
            Expression.NewArrayInit(typeof(IlgpuKernelArgument), arguments));
        return Expression.Lambda<TLauncher>(body, parameters).Compile();
    }
}

/// <summary>One launch argument of an ILGPU kernel as its PTX receives it: an array view (address + length), a
/// scalar's bits, or a struct's bytes.</summary>
public readonly record struct IlgpuKernelArgument(IntPtr Address, long Bytes, long Length, ulong Bits, int Size, byte[]? StructBytes, bool IsView)
{
    internal static Expression Capture(ParameterExpression p)
    {
        var type = p.Type;
        string helper = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ArrayView<>) ? nameof(View)
            : type == typeof(int) ? nameof(Int32)
            : type == typeof(float) ? nameof(Float32)
            : type == typeof(long) ? nameof(Int64)
            : nameof(Struct);
        var method = typeof(IlgpuKernelArgument).GetMethod(helper, BindingFlags.NonPublic | BindingFlags.Static)!;
        if (method.IsGenericMethodDefinition)
        {
            method = method.MakeGenericMethod(helper == nameof(View) ? type.GetGenericArguments()[0] : type);
        }

        return Expression.Call(method, p);
    }

    private static unsafe IlgpuKernelArgument View<T>(ArrayView<T> view) where T : unmanaged
        => view.IsValid && view.Length > 0
            ? new IlgpuKernelArgument(view.LoadEffectiveAddressAsPtr(), view.Length * sizeof(T), view.Length, 0, 16, null, true)
            : new IlgpuKernelArgument(IntPtr.Zero, 0, view.IsValid ? view.Length : 0, 0, 16, null, true);

    private static IlgpuKernelArgument Int32(int value) => new(IntPtr.Zero, 0, 0, (uint)value, 4, null, false);

    private static IlgpuKernelArgument Float32(float value) => new(IntPtr.Zero, 0, 0, BitConverter.SingleToUInt32Bits(value), 4, null, false);

    private static IlgpuKernelArgument Int64(long value) => new(IntPtr.Zero, 0, 0, (ulong)value, 8, null, false);

    private static unsafe IlgpuKernelArgument Struct<T>(T value) where T : unmanaged
    {
        var bytes = new byte[sizeof(T)];
        System.Runtime.InteropServices.MemoryMarshal.Write(bytes, in value);
        return new IlgpuKernelArgument(IntPtr.Zero, 0, 0, 0, bytes.Length, bytes, false);
    }
}
