using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using static Qwen3Next.Backends.Ptx.LaunchChecks;

namespace Qwen3Next.Ops.Basic;

/// <summary>
/// Launchers of <c>kernels/basic/*.cu</c> (ABI in <c>kernels/README.md</c>). The <c>*Config</c> methods hold every
/// grid/block/shared-memory choice and size check, so they are tested without a GPU; the op methods only check the
/// tensors, pack arguments and launch on the backend's stream. Only ArgmaxRows synchronises (its result is on the host).
/// In fast precision a prefill matmul casts x to bf16 once (<c>cast_f32_bf16</c>) and runs the wgmma GEMM (sm_90a);
/// without the sm_90a kernels, or when <c>in % 8 ≠ 0</c>, the exact mma kernel runs instead.
/// </summary>
public sealed class PtxBasicOps(PtxBackend backend) : IBasicOps, IResidualMatMul
{
    public const string Embedding = "embedding_bf16";
    public const string RmsNormZeroCentred = "rmsnorm_zero_centred";
    public const string RmsNormPlain = "rmsnorm_plain";
    public const string MatMulGemv = "matmul_bf16_gemv";
    public const string MatMulMma = "matmul_bf16_mma";
    public const string ResidualAdd = "residual_add";
    public const string SiluMul = "silu_mul";
    public const string Argmax = "argmax_rows";
    public const string Sample = "sample_rows";
    public const string CastBf16 = "cast_f32_bf16";
    public const string SiluMulBf16 = "silu_mul_bf16";
    public const string MatMulWgmma = "matmul_bf16_wgmma";

    /// <summary>Dynamic shared memory of the wgmma GEMMs: 4 stages of a 128×64 A and a 256×64 B tile in bf16, plus
    /// 1 KiB to align them to a swizzle atom (<c>GW_SMEM_BYTES</c> in kernels/common/gemm_wgmma.cuh).</summary>
    public const int WgmmaSharedBytes = (4 * ((128 * 64) + (256 * 64)) * 2) + 1024;

    /// <summary>The GEMV kernel serves at most this many rows (decode); the mma kernel serves the rest.</summary>
    public const int GemvMaxRows = 8;

    public static IReadOnlyList<string> KernelNames { get; } =
        [Embedding, RmsNormZeroCentred, RmsNormPlain, MatMulGemv, MatMulMma, ResidualAdd, SiluMul, Argmax, Sample, CastBf16, SiluMulBf16];

    /// <summary>Kernels built from <c>*_sm90a.cu</c> with CUDA 12.4: embedded only when that toolchain was found.</summary>
    public static IReadOnlyList<string> Sm90aKernelNames { get; } = [MatMulWgmma];

    private readonly KernelArguments args = new();
    private int[]? stagedIds;
    private long stagedMoves;

    internal static LaunchConfig RowConfig(string kernel, int rows, int cols)
    {
        Positive(kernel, "T", rows);
        Positive(kernel, "n", cols);
        return new LaunchConfig(rows, 256);
    }

    /// <summary>GEMV for T ≤ 8; else the wgmma kernel with 128 x 256 tiles when <paramref name="tensorCores"/> (fast
    /// precision with the sm_90a kernels embedded) and in % 8 == 0, otherwise the exact mma kernel with 64 x 64 tiles.</summary>
    internal static (string Kernel, LaunchConfig Config) MatMulConfig(int rows, int inFeatures, int outFeatures, bool tensorCores = false)
    {
        string kernel = rows <= GemvMaxRows ? MatMulGemv : tensorCores && inFeatures % 8 == 0 ? MatMulWgmma : MatMulMma;
        Positive(kernel, "T", rows);
        Positive(kernel, "in", inFeatures);
        Positive(kernel, "out", outFeatures);
        var config = kernel switch
        {
            MatMulGemv => new LaunchConfig(CeilDiv(outFeatures, 8), 256),
            MatMulWgmma => new LaunchConfig(new LaunchDims(CeilDiv(outFeatures, 256), CeilDiv(rows, 128)), 256, WgmmaSharedBytes),
            _ => new LaunchConfig(new LaunchDims(CeilDiv(outFeatures, 64), CeilDiv(rows, 64)), 128),
        };
        config.Validate(kernel);
        return (kernel, config);
    }

    /// <summary>The fast-precision GEMMs run: fast precision and the sm_90a kernels embedded.</summary>
    internal bool TensorCores => backend.Precision == Precision.Fast && backend.HasSm90aKernels;

    internal static LaunchConfig ElementwiseConfig(string kernel, long n)
    {
        Positive(kernel, "n", n);
        return new LaunchConfig((int)Math.Min(CeilDiv(n, 256), 65535), 256);
    }

    public void Embed(ReadOnlySpan<int> tokens, DeviceWeight table, DeviceTensor y)
    {
        using var use = OpContracts.Embed(backend.Access, tokens, table, y);
        int t = tokens.Length;
        var config = RowConfig(Embedding, t, table.Cols);
        Holds(Embedding, "out", y.Length, (long)t * table.Cols);
        foreach (int id in tokens)
        {
            Require((uint)id < (uint)table.Rows, Embedding, $"token id {id} is outside the vocabulary of {table.Rows}");
        }

        var ids = StageIds(tokens);
        backend.Launch(Embedding, config, args.Clear().Add(PtxBackend.T(y).Span).Add(ids).Add(PtxBackend.W(table).Bits).Add(t).Add(table.Cols));
    }

    /// <summary>The ids in the embedding's workspace: uploaded unless the same ids are already there (staged before a
    /// captured step, whose embedding then uploads nothing).</summary>
    internal DeviceSpan<int> StageIds(ReadOnlySpan<int> tokens)
    {
        var ids = backend.Workspace.Get<int>("basic.ids", tokens.Length).Slice(0, Math.Max(1, tokens.Length));
        // A grown workspace may reuse an address, so a move invalidates what was staged too.
        if (stagedIds is null || stagedMoves != backend.Workspace.Moves || !tokens.SequenceEqual(stagedIds))
        {
            backend.CopyToDevice(tokens, ids.Slice(0, tokens.Length));
            (stagedIds, stagedMoves) = (tokens.ToArray(), backend.Workspace.Moves);
        }

        return ids;
    }

    public void RmsNorm(DeviceTensor x, DeviceWeight weight, DeviceTensor y, int rows, int dim, float eps, bool zeroCentred)
    {
        using var use = OpContracts.RmsNorm(backend.Access, x, weight, y, rows, dim, eps);
        string kernel = zeroCentred ? RmsNormZeroCentred : RmsNormPlain;
        var config = RowConfig(kernel, rows, dim);
        Holds(kernel, "x", x.Length, (long)rows * dim);
        Holds(kernel, "y", y.Length, (long)rows * dim);
        Holds(kernel, "w", weight.Length, dim);
        backend.Launch(kernel, config, args.Clear().Add(PtxBackend.T(y).Span).Add(PtxBackend.T(x).Span).Add(PtxBackend.W(weight).Values)
            .Add(rows).Add(dim).Add(eps));
    }

    public void MatMul(DeviceTensor x, DeviceWeight weight, DeviceTensor y, int rows)
    {
        using var use = OpContracts.MatMul(backend.Access, x, weight, y, rows);
        MatMul(PtxBackend.T(x).Span, weight, PtxBackend.T(y).Span, rows, accumulate: false);
    }

    public void MatMulAdd(DeviceTensor x, DeviceWeight weight, DeviceTensor y, int rows)
    {
        using var use = OpContracts.MatMul(backend.Access, x, weight, y, rows);
        if (ReferenceEquals(x, y))
        {
            throw new ArgumentException("MatMulAdd: y aliases x (the kernel reads x while it writes y).", nameof(y));
        }

        MatMul(PtxBackend.T(x).Span, weight, PtxBackend.T(y).Span, rows, accumulate: true);
    }

    /// <summary><c>y[rows, W.Rows] (+)= x[rows, W.Cols]·Wᵀ</c> on views (workspaces of the other families). In fast
    /// precision x is cast to bf16 first (into a workspace) unless the GEMV or the exact kernel serves the shape.</summary>
    internal void MatMul(DeviceSpan<float> x, DeviceWeight weight, DeviceSpan<float> y, int rows, bool accumulate)
    {
        var (kernel, config) = MatMulConfig(rows, weight.Cols, weight.Rows, TensorCores);
        Holds(kernel, "x", x.Length, (long)rows * weight.Cols);
        Holds(kernel, "y", y.Length, (long)rows * weight.Rows);
        if (kernel == MatMulWgmma)
        {
            long n = (long)rows * weight.Cols;
            var xb = backend.Workspace.Get<ushort>("basic.x_bf16", n);
            CastToBf16(x, xb, n);
            MatMulBf16(xb, weight, y, rows, accumulate);
            return;
        }

        backend.Launch(kernel, config, args.Clear().Add(y).Add(x).Add(PtxBackend.W(weight).Bits).Add(rows).Add(weight.Cols).Add(weight.Rows)
            .Add(accumulate ? 1 : 0));
    }

    /// <summary>Fast precision: <c>y (+)= xb·Wᵀ</c> for activations already in bf16 (cast once by their producer) on
    /// the wgmma GEMM; needs <see cref="TensorCores"/>, rows &gt; 8 and in % 8 == 0.</summary>
    internal void MatMulBf16(DeviceSpan<ushort> xb, DeviceWeight weight, DeviceSpan<float> y, int rows, bool accumulate)
    {
        var (kernel, config) = MatMulConfig(rows, weight.Cols, weight.Rows, TensorCores);
        Require(kernel == MatMulWgmma, MatMulWgmma, $"bf16 activations need the wgmma GEMM (fast precision, sm_90a kernels, T > {GemvMaxRows}, in % 8 == 0); it cannot serve T = {rows}, in = {weight.Cols}");
        Holds(kernel, "xb", xb.Length, (long)rows * weight.Cols);
        Holds(kernel, "y", y.Length, (long)rows * weight.Rows);
        backend.Launch(kernel, config, args.Clear().Add(y).Add(xb).Add(PtxBackend.W(weight).Bits).Add(rows).Add(weight.Cols).Add(weight.Rows)
            .Add(accumulate ? 1 : 0));
    }

    /// <summary><c>xb[i] = bf16(x[i])</c> for the first <paramref name="n"/> values (round to nearest even), and with
    /// <paramref name="low"/> the remainder <c>bf16(x[i] − xb[i])</c> too.</summary>
    internal void CastToBf16(DeviceSpan<float> x, DeviceSpan<ushort> xb, long n, DeviceSpan<ushort>? low = null)
    {
        var config = ElementwiseConfig(CastBf16, n);
        Holds(CastBf16, "x", x.Length, n);
        Holds(CastBf16, "out", xb.Length, n);
        args.Clear().Add(xb);
        if (low is { } lo)
        {
            Holds(CastBf16, "out_lo", lo.Length, n);
            args.Add(lo);
        }
        else
        {
            args.AddNull();
        }

        backend.Launch(CastBf16, config, args.Add(x).Add(n));
    }

    public void Add(DeviceTensor accumulator, DeviceTensor addend, long length)
    {
        using var use = OpContracts.Add(backend.Access, accumulator, addend, length);
        var config = ElementwiseConfig(ResidualAdd, length);
        Holds(ResidualAdd, "h", accumulator.Length, length);
        Holds(ResidualAdd, "d", addend.Length, length);
        backend.Launch(ResidualAdd, config, args.Clear().Add(PtxBackend.T(accumulator).Span).Add(PtxBackend.T(addend).Span).Add(length));
    }

    /// <summary><c>out[t, i] = bf16(silu(gate[t·ldIn + i])·up[t·ldIn + i])</c>: the SwiGLU output as the next fast GEMM's input.</summary>
    internal void SiluMulRowsBf16(DeviceSpan<ushort> output, DeviceSpan<float> gate, DeviceSpan<float> up, int rows, int width, int ldIn)
    {
        var config = ElementwiseConfig(SiluMulBf16, (long)rows * width);
        Require(ldIn >= width, SiluMulBf16, $"ld_in = {ldIn} is below I = {width}");
        Holds(SiluMulBf16, "out", output.Length, (long)rows * width);
        backend.Launch(SiluMulBf16, config, args.Clear().Add(output).Add(gate).Add(up).Add(rows).Add(width).Add(ldIn));
    }

    /// <summary><c>out[t, i] = silu(gate[t·ldIn + i])·up[t·ldIn + i]</c>.</summary>
    internal void SiluMulRows(DeviceSpan<float> output, DeviceSpan<float> gate, DeviceSpan<float> up, int rows, int width, int ldIn)
    {
        var config = ElementwiseConfig(SiluMul, (long)rows * width);
        Require(ldIn >= width, SiluMul, $"ld_in = {ldIn} is below I = {width}");
        Holds(SiluMul, "out", output.Length, (long)rows * width);
        backend.Launch(SiluMul, config, args.Clear().Add(output).Add(gate).Add(up).Add(rows).Add(width).Add(ldIn));
    }

    /// <summary>Most candidates <c>sample_rows</c> sorts on the device (top-k above it needs the host sampler).</summary>
    public const int SampleMaxTopK = 256;

    /// <summary><c>sample_rows</c>: one token per row of <paramref name="logits"/> <c>[rows, vocab]</c> into
    /// <paramref name="output"/> (greedy when temperature ≤ 0, else 1 ≤ top-k ≤ <see cref="SampleMaxTopK"/>), drawing
    /// from <paramref name="counters"/> <c>[rows]</c> (advanced by the kernel).</summary>
    internal void SampleRows(DeviceSpan<int> output, DeviceSpan<float> logits, DeviceSpan<long> counters, long seed, int rows, int vocab,
        float temperature, int topK, float topP)
    {
        Positive(Sample, "T", rows);
        Positive(Sample, "V", vocab);
        Require(temperature <= 0f || topK is >= 1 and <= SampleMaxTopK, Sample, $"top_k = {topK} is outside [1, {SampleMaxTopK}]");
        Require(topP > 0f && topP <= 1f, Sample, $"top_p = {topP} is outside (0, 1]");
        Holds(Sample, "out", output.Length, rows);
        Holds(Sample, "logits", logits.Length, (long)rows * vocab);
        Holds(Sample, "counters", counters.Length, rows);
        backend.Launch(Sample, new LaunchConfig(rows, 1024), args.Clear().Add(output).Add(logits).Add(counters).Add(seed).Add(rows).Add(vocab)
            .Add(temperature).Add(topK).Add(topP));
    }

    public void ArgmaxRows(DeviceTensor x, int rows, int cols, Span<int> result)
    {
        using var use = OpContracts.ArgmaxRows(backend.Access, x, rows, cols, result.Length);
        var config = RowConfig(Argmax, rows, cols);
        Holds(Argmax, "x", x.Length, (long)rows * cols);
        Holds(Argmax, "result", result.Length, rows);
        var indices = backend.Workspace.Get<int>("basic.argmax", rows);
        backend.Launch(Argmax, config, args.Clear().Add(indices).Add(PtxBackend.T(x).Span).Add(rows).Add(cols));
        backend.CopyToHost(indices.Slice(0, rows), result[..rows]);
        backend.Synchronize();
    }
}
