namespace Qwen3Next.PtxEmulator.Model;

/// <summary>
/// What a kernel takes from an SM besides its threads: registers per thread (from ptxas, which the PTX cannot
/// tell: PTX registers are virtual) and static shared memory. <see cref="Source"/> says where the numbers came
/// from, so a report shows when a fallback was used.
/// </summary>
public sealed record KernelResources(string Kernel, int RegistersPerThread, int StaticSharedBytes, string Source)
{
    /// <summary>Registers assumed for a kernel the ptxas reports do not list: 64 (a typical ptxas result for this
    /// project's kernels), lowered to what a block of <paramref name="threadsPerCta"/> threads can hold so the
    /// kernel stays launchable.</summary>
    public static KernelResources Fallback(string kernel, int staticSharedBytes, int threadsPerCta, H200Spec spec)
    {
        int warps = (threadsPerCta + 31) / 32;
        int perThread = spec.RegistersPerSm / Math.Max(1, warps * 32) / 8 * 8;
        int registers = Math.Clamp(perThread, 8, 64);
        return new KernelResources(kernel, registers, staticSharedBytes, $"fallback: {kernel} is in no ptxas report, {registers} registers assumed");
    }

    public bool IsFallback => Source.StartsWith("fallback", StringComparison.Ordinal);
}
