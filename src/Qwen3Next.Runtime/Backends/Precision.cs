namespace Qwen3Next.Backends;

/// <summary>
/// The arithmetic a backend's kernels use, fixed when the backend is created (<c>--precision</c> on the CLI).
/// </summary>
public enum Precision
{
    /// <summary>fp32 activations and states; GEMMs split each fp32 activation into three bf16 terms so the tensor
    /// cores keep fp32 accuracy. Held to the golden tolerances (tests/data/golden/README.md).</summary>
    Exact,

    /// <summary>bf16 operands on the tensor cores with fp32 accumulation: activations are rounded to bf16 once, by
    /// their producer or one cast kernel, before a prefill GEMM (the router and the decode GEMVs stay fp32). Held to
    /// fla's criterion instead: relative RMS error of each output at most <see cref="PrecisionModes.FastRelativeRms"/>,
    /// and on a model every greedy token among the other mode's top 5 (<c>Conformance/</c>).</summary>
    Fast,
}

/// <summary>Names, parsing and which backend supports which mode.</summary>
public static class PrecisionModes
{
    /// <summary>fla's test criterion for reduced-precision kernels: ‖actual − expected‖₂ / ‖expected‖₂ ≤ 5e-3.</summary>
    public const double FastRelativeRms = 5e-3;

    public static IReadOnlyList<string> Names { get; } = ["exact", "fast"];

    public static string Name(this Precision precision) => precision == Precision.Fast ? "fast" : "exact";

    /// <summary>"exact" or "fast" (case-insensitive); anything else is an <see cref="ArgumentException"/> naming it.</summary>
    public static Precision Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "exact" => Precision.Exact,
        "fast" => Precision.Fast,
        _ => throw new ArgumentException($"Unknown precision '{text}'. Known: {string.Join(", ", Names)}."),
    };

    /// <summary>Backends with a fast mode: the CUDA C kernels (on a GPU, on the emulator, in signature-check mode).</summary>
    public static bool Supports(string backend, Precision precision)
        => precision == Precision.Exact || backend is "ptx" or "ptx-emu";

    /// <summary>What a backend runs when no precision is asked for: fast on a GPU where the backend has it, exact
    /// everywhere else (the emulated backends default to exact so the golden tolerances hold by default).</summary>
    public static Precision DefaultFor(string backend) => backend == "ptx" ? Precision.Fast : Precision.Exact;
}
