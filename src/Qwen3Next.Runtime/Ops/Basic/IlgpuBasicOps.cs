using ILGPU;
using ILGPU.Runtime;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;

namespace Qwen3Next.Ops.Basic;

/// <summary>Launchers of <see cref="BasicKernels"/>: they own group sizes and the choice between GEMV and GEMM.</summary>
public sealed class IlgpuBasicOps : IBasicOps
{
    /// <summary>Below this many rows a matmul is weight-bandwidth bound: the weight-stationary kernel reads each weight once.</summary>
    public const int GemvMaxRows = 8;

    /// <summary>Which matmul kernel to use; <see cref="MatMulKernel.Auto"/> follows the row count and the accelerator.</summary>
    public MatMulKernel MatMulChoice { get; set; } = MatMulKernel.Auto;

    private readonly IlgpuBackend backend;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<int>, ArrayView<ushort>, ArrayView<float>, int> embed;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float, int> rmsNorm;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, int, int, int> gemv;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, int, int, int> gemm;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<Float4>, ArrayView<ulong>, ArrayView<float>, int, int, int> warpGemv;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>> add;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, int, int> argmax;

    public IlgpuBasicOps(IlgpuBackend backend)
    {
        this.backend = backend;
        var kernels = backend.Kernels;
        kernels.Load(out embed, BasicKernels.Embed);
        kernels.Load(out rmsNorm, BasicKernels.RmsNorm);
        kernels.Load(out gemv, BasicKernels.Gemv);
        kernels.Load(out gemm, BasicKernels.Gemm);
        kernels.Load(out warpGemv, DecodeGemvKernels.WarpPerFeaturePair);
        kernels.Load(out add, BasicKernels.Add);
        kernels.Load(out argmax, BasicKernels.ArgmaxRows);
    }

    private AcceleratorStream Stream => backend.Stream;

    public void Embed(ReadOnlySpan<int> tokens, DeviceWeight table, DeviceTensor y)
    {
        using var use = OpContracts.Embed(backend.Access, tokens, table, y);
        using var ids = backend.UploadInts(tokens);
        embed(Stream, tokens.Length * table.Cols, ids.View, IlgpuBackend.W(table).Bits, IlgpuBackend.T(y).View, table.Cols);
    }

    public void RmsNorm(DeviceTensor x, DeviceWeight weight, DeviceTensor y, int rows, int dim, float eps, bool zeroCentred)
    {
        using var use = OpContracts.RmsNorm(backend.Access, x, weight, y, rows, dim, eps);
        rmsNorm(Stream, new KernelConfig(backend.GridSize(rows), backend.GroupSize(BasicKernels.MaxGroup)), IlgpuBackend.T(x).View,
            IlgpuBackend.W(weight).Values, IlgpuBackend.T(y).View, rows, dim, eps, zeroCentred ? 1 : 0);
    }

    public void MatMul(DeviceTensor x, DeviceWeight weight, DeviceTensor y, int rows)
    {
        using var use = OpContracts.MatMul(backend.Access, x, weight, y, rows);
        var (xv, wv, yv) = (IlgpuBackend.T(x).View, IlgpuBackend.W(weight).Bits, IlgpuBackend.T(y).View);
        // 8-byte weight chunks need in % 4 == 0 and a 4-element-aligned view.
        bool chunked = weight.Cols % 4 == 0 && IlgpuBackend.W(weight).BitsOffset % 4 == 0;
        var kernel = MatMulChoice != MatMulKernel.Auto ? MatMulChoice
            : rows <= GemvMaxRows && !backend.IsCpuAccelerator && chunked ? MatMulKernel.WarpPerFeature
            : rows <= GemvMaxRows || backend.IsCpuAccelerator ? MatMulKernel.WeightStationary : MatMulKernel.Tiled;
        if (kernel == MatMulKernel.WarpPerFeature)
        {
            if (!chunked)
            {
                throw new ArgumentException($"The warp-per-feature GEMV reads 4 bf16 weights at a time: in = {weight.Cols} must be a multiple of 4.", nameof(weight));
            }

            int pairs = (weight.Rows + 1) / 2, warps = DecodeGemvKernels.GroupSize / backend.Accelerator.WarpSize;
            warpGemv(Stream, new KernelConfig(backend.GridSize((pairs + warps - 1) / warps), DecodeGemvKernels.GroupSize), xv.SubView(0, (long)rows * weight.Cols).Cast<Float4>(), wv.SubView(0, (long)weight.Rows * weight.Cols).Cast<ulong>(), yv, rows,
                weight.Rows, weight.Cols);
        }
        else if (kernel == MatMulKernel.WeightStationary)
        {
            int group = backend.GroupSize(BasicKernels.GemvMaxGroup);
            gemv(Stream, new KernelConfig(backend.GridSize((weight.Rows + group - 1) / group), group), xv, wv, yv, rows, weight.Rows, weight.Cols);
        }
        else
        {
            var grid = new Index2D((weight.Rows + BasicKernels.Tile - 1) / BasicKernels.Tile, (rows + BasicKernels.Tile - 1) / BasicKernels.Tile);
            gemm(Stream, new KernelConfig(grid, new Index2D(16, 16)), xv, wv, yv, rows, weight.Rows, weight.Cols);
        }
    }

    public void Add(DeviceTensor accumulator, DeviceTensor addend, long length)
    {
        using var use = OpContracts.Add(backend.Access, accumulator, addend, length);
        add(Stream, checked((int)length), IlgpuBackend.T(accumulator).View, IlgpuBackend.T(addend).View);
    }

    public void ArgmaxRows(DeviceTensor x, int rows, int cols, Span<int> result)
    {
        using var use = OpContracts.ArgmaxRows(backend.Access, x, rows, cols, result.Length);
        using var indices = backend.Accelerator.Allocate1D<int>(rows);
        argmax(Stream, new KernelConfig(backend.GridSize(rows), backend.GroupSize(BasicKernels.MaxGroup)), IlgpuBackend.T(x).View, indices.View, rows, cols);
        indices.View.CopyToCPU(Stream, result[..rows]);
        Stream.Synchronize();
    }
}

/// <summary>The matmul kernels: warp per feature pair (GPU decode), weight-stationary (decode on the CPU accelerator) and
/// register-tiled (GPU prefill).</summary>
public enum MatMulKernel
{
    Auto,
    WeightStationary,
    Tiled,
    WarpPerFeature,
}
