using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using static Qwen3Next.Backends.Ptx.LaunchChecks;

namespace Qwen3Next.Ops.Basic;

/// <summary>
/// Launchers of <c>kernels/basic/*.cu</c> (ABI in <c>kernels/README.md</c>). The <c>*Config</c> methods hold every
/// grid/block/shared-memory choice and size check, so they are tested without a GPU; the op methods only check the
/// tensors, pack arguments and launch on the backend's stream. Only ArgmaxRows synchronises (its result is on the host).
/// </summary>
public sealed class PtxBasicOps(PtxBackend backend) : IBasicOps
{
    public const string Embedding = "embedding_bf16";
    public const string RmsNormZeroCentred = "rmsnorm_zero_centred";
    public const string RmsNormPlain = "rmsnorm_plain";
    public const string MatMulGemv = "matmul_bf16_gemv";
    public const string MatMulMma = "matmul_bf16_mma";
    public const string ResidualAdd = "residual_add";
    public const string SiluMul = "silu_mul";
    public const string Argmax = "argmax_rows";

    /// <summary>The GEMV kernel serves at most this many rows (decode); the mma kernel serves the rest.</summary>
    public const int GemvMaxRows = 8;

    public static IReadOnlyList<string> KernelNames { get; } =
        [Embedding, RmsNormZeroCentred, RmsNormPlain, MatMulGemv, MatMulMma, ResidualAdd, SiluMul, Argmax];

    private readonly KernelArguments args = new();

    internal static LaunchConfig RowConfig(string kernel, int rows, int cols)
    {
        Positive(kernel, "T", rows);
        Positive(kernel, "n", cols);
        return new LaunchConfig(rows, 256);
    }

    /// <summary>GEMV for T ≤ 8, else the mma kernel with 64 x 64 output tiles.</summary>
    internal static (string Kernel, LaunchConfig Config) MatMulConfig(int rows, int inFeatures, int outFeatures)
    {
        string kernel = rows <= GemvMaxRows ? MatMulGemv : MatMulMma;
        Positive(kernel, "T", rows);
        Positive(kernel, "in", inFeatures);
        Positive(kernel, "out", outFeatures);
        var config = kernel == MatMulGemv
            ? new LaunchConfig(CeilDiv(outFeatures, 8), 256)
            : new LaunchConfig(new LaunchDims(CeilDiv(outFeatures, 64), CeilDiv(rows, 64)), 128);
        config.Validate(kernel);
        return (kernel, config);
    }

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

        var ids = backend.Workspace.Get<int>("basic.ids", t);
        backend.CopyToDevice(tokens, ids.Slice(0, t));
        backend.Launch(Embedding, config, args.Clear().Add(PtxBackend.T(y).Span).Add(ids).Add(PtxBackend.W(table).Bits).Add(t).Add(table.Cols));
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

    /// <summary><c>y[rows, W.Rows] (+)= x[rows, W.Cols]·Wᵀ</c> on views (workspaces of the other families).</summary>
    internal void MatMul(DeviceSpan<float> x, DeviceWeight weight, DeviceSpan<float> y, int rows, bool accumulate)
    {
        var (kernel, config) = MatMulConfig(rows, weight.Cols, weight.Rows);
        Holds(kernel, "x", x.Length, (long)rows * weight.Cols);
        Holds(kernel, "y", y.Length, (long)rows * weight.Rows);
        backend.Launch(kernel, config, args.Clear().Add(y).Add(x).Add(PtxBackend.W(weight).Bits).Add(rows).Add(weight.Cols).Add(weight.Rows)
            .Add(accumulate ? 1 : 0));
    }

    public void Add(DeviceTensor accumulator, DeviceTensor addend, long length)
    {
        using var use = OpContracts.Add(backend.Access, accumulator, addend, length);
        var config = ElementwiseConfig(ResidualAdd, length);
        Holds(ResidualAdd, "h", accumulator.Length, length);
        Holds(ResidualAdd, "d", addend.Length, length);
        backend.Launch(ResidualAdd, config, args.Clear().Add(PtxBackend.T(accumulator).Span).Add(PtxBackend.T(addend).Span).Add(length));
    }

    /// <summary><c>out[t, i] = silu(gate[t·ldIn + i])·up[t·ldIn + i]</c>.</summary>
    internal void SiluMulRows(DeviceSpan<float> output, DeviceSpan<float> gate, DeviceSpan<float> up, int rows, int width, int ldIn)
    {
        var config = ElementwiseConfig(SiluMul, (long)rows * width);
        Require(ldIn >= width, SiluMul, $"ld_in = {ldIn} is below I = {width}");
        Holds(SiluMul, "out", output.Length, (long)rows * width);
        backend.Launch(SiluMul, config, args.Clear().Add(output).Add(gate).Add(up).Add(rows).Add(width).Add(ldIn));
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
