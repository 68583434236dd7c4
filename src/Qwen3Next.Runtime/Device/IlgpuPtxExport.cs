using System.Reflection;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Qwen3Next.Device;

/// <summary>One ILGPU kernel compiled to PTX.</summary>
public sealed record IlgpuPtxKernel(string Name, MethodInfo Method, string Ptx);

/// <summary>
/// Compiles every ILGPU kernel of the runtime to PTX without a GPU, with the same context settings the
/// accelerator uses. Kernels are the public static void methods of the static <c>*Kernels</c> classes under
/// <c>Qwen3Next.Ops</c>; a first parameter of type Index1D/2D/3D marks an implicitly grouped kernel.
/// Target: sm_90 with PTX ISA 7.8, the newest that Debian's ptxas 11.8 assembles (the driver JIT-compiles it).
/// </summary>
public static class IlgpuPtxExport
{
    public static IEnumerable<MethodInfo> KernelMethods() =>
        typeof(IlgpuPtxExport).Assembly.GetTypes()
            .Where(t => t is { IsAbstract: true, IsSealed: true } && t.Namespace?.StartsWith("Qwen3Next.Ops", StringComparison.Ordinal) == true
                && t.Name.EndsWith("Kernels", StringComparison.Ordinal))
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.ReturnType == typeof(void) && m.GetParameters().Any(p => p.ParameterType.IsGenericType
                && p.ParameterType.GetGenericTypeDefinition() == typeof(ArrayView<>)))
            .OrderBy(m => m.DeclaringType!.Name, StringComparer.Ordinal).ThenBy(m => m.Name, StringComparer.Ordinal);

    /// <summary>
    /// ILGPU 1.5.3 writes <c>.target sm_80</c> for SM_90 (its newest known target); the code uses nothing newer than
    /// sm_80, so naming sm_90 is a valid retarget that makes ptxas and the driver build a native sm_90 binary.
    /// </summary>
    public static string Retarget(string ptx, CudaArchitecture arch)
    {
        string target = $".target sm_{arch.Major}{arch.Minor}";
        int start = ptx.IndexOf(".target sm_", StringComparison.Ordinal);
        if (start < 0)
        {
            return ptx;
        }

        int end = ptx.IndexOfAny(['\n', '\r', ','], start);
        return string.Concat(ptx.AsSpan(0, start), target, ptx.AsSpan(end < 0 ? ptx.Length : end));
    }

    public static IReadOnlyList<IlgpuPtxKernel> CompileAll(CudaArchitecture? architecture = null, CudaInstructionSet? instructionSet = null)
    {
        using var compiler = new IlgpuPtxCompiler(architecture, instructionSet);
        return KernelMethods().Select(compiler.Compile).ToList();
    }

    /// <summary>True when <paramref name="method"/> takes its launch extent first (Index1D/2D/3D): implicitly grouped.</summary>
    public static bool IsImplicitlyGrouped(MethodInfo method)
    {
        var first = method.GetParameters()[0].ParameterType;
        return first == typeof(Index1D) || first == typeof(Index2D) || first == typeof(Index3D);
    }
}

/// <summary>
/// ILGPU's PTX backend without a GPU, with the context settings the accelerator uses (O2, fast 32-bit math,
/// algorithms); compiles one kernel method at a time. Thread-safe.
/// </summary>
public sealed class IlgpuPtxCompiler : IDisposable
{
    private readonly Context context;
    private readonly PTXBackend backend;
    private readonly CudaArchitecture arch;

    public IlgpuPtxCompiler(CudaArchitecture? architecture = null, CudaInstructionSet? instructionSet = null)
    {
        context = Context.Create(b => b.Optimize(OptimizationLevel.O2).Math(MathMode.Fast32BitOnly).EnableAlgorithms());
        arch = architecture ?? CudaArchitecture.SM_90;
        backend = new PTXBackend(context, new CudaCapabilityContext(arch), arch, instructionSet ?? CudaInstructionSet.ISA_78, nvvmAPI: null);
    }

    public IlgpuPtxKernel Compile(MethodInfo method)
    {
        var entry = IlgpuPtxExport.IsImplicitlyGrouped(method)
            ? EntryPointDescription.FromImplicitlyGroupedKernel(method)
            : EntryPointDescription.FromExplicitlyGroupedKernel(method);
        lock (backend)
        {
            var compiled = (PTXCompiledKernel)backend.Compile(entry, default(KernelSpecialization));
            return new IlgpuPtxKernel($"{method.DeclaringType!.Name}.{method.Name}", method, IlgpuPtxExport.Retarget(compiled.PTXAssembly, arch));
        }
    }

    public void Dispose()
    {
        backend.Dispose();
        context.Dispose();
    }
}
