using ILGPU;
using ILGPU.Runtime;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;

namespace Qwen3Next.Ops.Attention;

/// <summary>
/// Launchers of the fused gated attention over a packed batch and a paged cache: <see cref="QkNormRopeKernels"/> (norms,
/// RoPE, paged cache append), then <see cref="FlashAttentionKernels.Flash"/> over the host's unit list
/// (<see cref="AttentionTiling.Plan"/>) — one split per tile for prefill and mixed batches, several per sequence for a
/// decode batch followed by <see cref="FlashAttentionKernels.Combine"/>. Everything stays on the compute stream; host work
/// per call is the unit list upload, plus growing the RoPE table and scratch a logarithmic number of times per run.
/// </summary>
public sealed class IlgpuGatedAttentionOps : IGatedAttentionOps, IDisposable
{
    /// <summary>CUDA group sizes: 64 threads per head row for the norm (4 values each at D=256), 128 for flash and combine.</summary>
    private const int NormGroup = 64;
    private const int FlashGroup = 128;
    private const int CombineGroup = 128;

    private readonly IlgpuBackend backend;
    private readonly IlgpuRopeTable rope;
    private readonly Action<AcceleratorStream, KernelConfig, AttentionLaunchDims, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> normRope;
    private readonly Action<AcceleratorStream, KernelConfig, AttentionLaunchDims, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> flash;
    private readonly Action<AcceleratorStream, KernelConfig, AttentionLaunchDims, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> combine;
    private MemoryBuffer1D<float, Stride1D.Dense>? queries;
    private MemoryBuffer1D<float, Stride1D.Dense>? partialO;
    private MemoryBuffer1D<float, Stride1D.Dense>? partialStats;
    private MemoryBuffer1D<int, Stride1D.Dense>? units;

    public IlgpuGatedAttentionOps(IlgpuBackend backend)
    {
        this.backend = backend;
        var kernels = backend.Kernels;
        rope = new IlgpuRopeTable(backend.Accelerator);
        kernels.Load(out normRope, QkNormRopeKernels.NormRope);
        kernels.Load(out flash, FlashAttentionKernels.Flash);
        kernels.Load(out combine, FlashAttentionKernels.Combine);
    }

    public void Mixer(GatedAttentionShape shape, int tokens, DeviceTensor qg, DeviceTensor k, DeviceTensor v,
        DeviceWeight qNorm, DeviceWeight kNorm, KvCache cache, DeviceTensor y)
    {
        using var use = OpContracts.GatedAttention(backend.Access, shape, tokens, qg, k, v, qNorm, kNorm, cache, y);
        Mixer(shape, SequenceBatch.Single(cache.Length, tokens), qg, k, v, qNorm, kNorm, PagedKvCache.Of(cache), y);
        cache.Length += tokens;
    }

    public void Mixer(GatedAttentionShape shape, SequenceBatch batch, DeviceTensor qg, DeviceTensor k, DeviceTensor v,
        DeviceWeight qNorm, DeviceWeight kNorm, PagedKvCache cache, DeviceTensor y)
    {
        using var use = OpContracts.GatedAttention(backend.Access, shape, batch, qg, k, v, qNorm, kNorm, cache, y);
        AttentionTiling.Validate(shape);

        var stream = backend.Stream;
        var (dims, work) = AttentionTiling.Plan(shape, batch, cache.PageSize);
        var meta = backend.Batches.Of(batch);
        var workView = UploadUnits(work);
        var ropeTable = rope.Covering(shape, batch.MaxPositionUsed + 1, stream);
        int tokens = batch.TotalTokens;
        var q = Grow(ref queries, (long)tokens * shape.OutputWidth);
        var (qgView, yView) = (IlgpuBackend.T(qg).View, IlgpuBackend.T(y).View);
        var (keys, values) = (IlgpuBackend.T(cache.Keys).View, IlgpuBackend.T(cache.Values).View);

        int normUnits = tokens * (shape.QueryHeads + shape.KeyValueHeads);
        normRope(stream, new KernelConfig(backend.GridSize(normUnits), backend.GroupSize(NormGroup)), dims, meta, qgView, IlgpuBackend.T(k).View,
            IlgpuBackend.T(v).View, IlgpuBackend.W(qNorm).Values, IlgpuBackend.W(kNorm).Values, ropeTable, q, keys, values);

        long partials = (long)tokens * shape.QueryHeads * dims.Splits;
        var po = dims.Splits > 1 ? Grow(ref partialO, partials * shape.HeadDim) : Grow(ref partialO, 1);
        var ps = dims.Splits > 1 ? Grow(ref partialStats, partials * 2) : Grow(ref partialStats, 1);
        int flashUnits = shape.KeyValueHeads * dims.Units;
        flash(stream, new KernelConfig(backend.GridSize(flashUnits), backend.GroupSize(FlashGroup)), dims, meta, workView, q, qgView, keys, values,
            yView, po, ps);
        if (dims.Splits > 1)
        {
            combine(stream, new KernelConfig(backend.GridSize(partials / dims.Splits), backend.GroupSize(CombineGroup)), dims, qgView, po, ps, yView);
        }
    }

    /// <summary>The unit list on the device, in a buffer that only grows (the stream orders it after the previous call's kernels).</summary>
    private ArrayView<int> UploadUnits(int[] work)
    {
        if (units is null || units.Length < work.Length)
        {
            units?.Dispose();
            units = backend.Accelerator.Allocate1D<int>(Math.Max(work.Length, 2 * (units?.Length ?? 0)));
        }

        var view = units.View.SubView(0, work.Length);
        view.CopyFromCPU(backend.Stream, work);
        return view;
    }

    /// <summary>Reuses a scratch buffer, reallocating (doubling) only when it is too small; the stream orders its users.</summary>
    private ArrayView<float> Grow(ref MemoryBuffer1D<float, Stride1D.Dense>? buffer, long length)
    {
        if (buffer is null || buffer.Length < length)
        {
            long grown = Math.Max(length, 2 * (buffer?.Length ?? 0));
            buffer?.Dispose();
            buffer = backend.Accelerator.Allocate1D<float>(grown);
        }

        return buffer.View;
    }

    public void Dispose()
    {
        rope.Dispose();
        queries?.Dispose();
        partialO?.Dispose();
        partialStats?.Dispose();
        units?.Dispose();
    }
}
