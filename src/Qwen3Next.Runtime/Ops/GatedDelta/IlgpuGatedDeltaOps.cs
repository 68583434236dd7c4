using ILGPU;
using ILGPU.Runtime;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;

namespace Qwen3Next.Ops.GatedDelta;

/// <summary>
/// Launchers of the gated delta kernels; every step stays on the device stream, with scratch from
/// <see cref="IlgpuBackend.Allocate"/> disposed after the call (ILGPU frees it after the queued work).
/// Mixer, T &gt; 1: <see cref="GatedDeltaConvKernels.ConvGates"/> → q/k l2 norm → <see cref="GatedDeltaChunkKernels.ChunkPrepare"/>
/// → <see cref="GatedDeltaChunkKernels.ChunkStatePass"/> → <see cref="GatedDeltaNormKernels.GatedRmsNorm"/>.
/// Mixer, T = 1: <see cref="GatedDeltaRecurrentKernels.FusedDecode"/> alone.
/// Rule: q/k l2 norm, then the chunked pair or <see cref="GatedDeltaRecurrentKernels.RecurrentRule"/> as asked.
/// </summary>
public sealed class IlgpuGatedDeltaOps : IGatedDeltaOps
{
    /// <summary>Group sizes on a GPU; the CPU accelerator gets one warp (see <see cref="IlgpuBackend.GroupSize"/>).</summary>
    private const int PrepareGroup = 128;
    private const int DecodeGroup = 128;
    private const int NormGroup = 128;
    private const int ElementwiseGroup = 256;

    private readonly IlgpuBackend backend;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GatedDeltaMixerDims> convGates;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, int, float, int> l2Normalize;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GatedDeltaMixerDims> gatedNorm;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GatedDeltaKernelDims> prepare;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, GatedDeltaKernelDims> statePass;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, GatedDeltaKernelDims> recurrent;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GatedDeltaMixerDims> fusedDecode;

    public IlgpuGatedDeltaOps(IlgpuBackend backend)
    {
        this.backend = backend;
        var kernels = backend.Kernels;
        kernels.Load(out convGates, GatedDeltaConvKernels.ConvGates);
        kernels.Load(out l2Normalize, GatedDeltaNormKernels.L2NormalizeRows);
        kernels.Load(out gatedNorm, GatedDeltaNormKernels.GatedRmsNorm);
        kernels.Load(out prepare, GatedDeltaChunkKernels.ChunkPrepare);
        kernels.Load(out statePass, GatedDeltaChunkKernels.ChunkStatePass);
        kernels.Load(out recurrent, GatedDeltaRecurrentKernels.RecurrentRule);
        kernels.Load(out fusedDecode, GatedDeltaRecurrentKernels.FusedDecode);
    }

    private AcceleratorStream Stream => backend.Stream;

    public void Rule(GatedDeltaShape shape, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor g, DeviceTensor beta,
        DeviceTensor state, DeviceTensor o, bool l2Normalize, float scale, GatedDeltaMode mode)
    {
        using var use = OpContracts.Rule(backend.Access, shape, q, k, v, g, beta, state, o, scale);
        var dims = Validate(shape);
        long keyLength = (long)shape.Tokens * shape.KeyHeads * shape.KeyDim;
        using var qn = backend.Allocate(keyLength);
        using var kn = backend.Allocate(keyLength);
        NormalizeRows(q, qn, shape.Tokens * shape.KeyHeads, shape.KeyDim, scale, l2Normalize);
        NormalizeRows(k, kn, shape.Tokens * shape.KeyHeads, shape.KeyDim, 1f, l2Normalize);
        if (mode == GatedDeltaMode.Recurrent)
        {
            Recurrent(dims, qn, kn, v, g, beta, state, o);
        }
        else
        {
            Chunked(dims, qn, kn, v, g, beta, state, o);
        }
    }

    public void Mixer(GatedDeltaNetShape shape, int tokens, DeviceTensor qkvz, DeviceTensor ba, GatedDeltaNetWeights weights,
        LinearAttentionState state, DeviceTensor y)
    {
        using var use = OpContracts.GatedDeltaNet(backend.Access, shape, tokens, qkvz, ba, weights, state, y);
        var rule = Validate(shape.Rule(tokens));
        if (shape.ConvKernel is < 1 or > GatedDeltaConvKernels.MaxConvKernel)
        {
            throw new ArgumentException($"Gated DeltaNet mixer: conv kernel {shape.ConvKernel} is outside 1..{GatedDeltaConvKernels.MaxConvKernel}.", nameof(shape));
        }

        var dims = new GatedDeltaMixerDims(rule, shape.ConvKernel, shape.Eps);
        var (convWeight, aLog, dtBias, norm) = (IlgpuBackend.W(weights.Conv).Bits, IlgpuBackend.W(weights.ALog).Values,
            IlgpuBackend.W(weights.DtBias).Values, IlgpuBackend.W(weights.Norm).Values);
        if (tokens == 1)
        {
            if (shape.KeyDim > GatedDeltaRecurrentKernels.MaxHeadDim || shape.ValueDim > GatedDeltaRecurrentKernels.MaxHeadDim)
            {
                throw new ArgumentException($"Fused decode: Dk {shape.KeyDim} / Dv {shape.ValueDim} exceed {GatedDeltaRecurrentKernels.MaxHeadDim}.", nameof(shape));
            }

            int group = backend.GroupSize(DecodeGroup);
            fusedDecode(Stream, new KernelConfig(backend.GridSize(shape.KeyHeads), group), View(qkvz), View(ba), convWeight, aLog, dtBias, norm,
                View(state.Conv), View(state.Recurrent), View(y), dims);
            return;
        }

        long keyLength = (long)tokens * shape.KeyHeads * shape.KeyDim, valueLength = (long)tokens * shape.ValueWidth;
        using var q = backend.Allocate(keyLength);
        using var k = backend.Allocate(keyLength);
        using var v = backend.Allocate(valueLength);
        using var g = backend.Allocate((long)tokens * shape.ValueHeads);
        using var beta = backend.Allocate((long)tokens * shape.ValueHeads);
        using var o = backend.Allocate(valueLength);
        int elementGroup = backend.GroupSize(ElementwiseGroup);
        long units = shape.ConvDim + shape.ValueHeads;
        convGates(Stream, new KernelConfig(backend.GridSize((units + elementGroup - 1) / elementGroup), elementGroup), View(qkvz), View(ba), convWeight,
            aLog, dtBias, View(state.Conv), View(q), View(k), View(v), View(g), View(beta), dims);
        NormalizeRows(q, q, tokens * shape.KeyHeads, shape.KeyDim, dims.Scale, true);
        NormalizeRows(k, k, tokens * shape.KeyHeads, shape.KeyDim, 1f, true);
        Chunked(rule, q, k, v, g, beta, state.Recurrent, o);
        int rows = tokens * shape.ValueHeads;
        gatedNorm(Stream, new KernelConfig(backend.GridSize(Tiles(rows)), backend.GroupSize(NormGroup)), View(o), View(qkvz), norm, View(y), dims);
    }

    private void Chunked(GatedDeltaKernelDims dims, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor g, DeviceTensor beta,
        DeviceTensor state, DeviceTensor o)
    {
        long paddedRows = (long)dims.ValueHeads * dims.PaddedTokens;
        using var gamma = backend.Allocate(paddedRows);
        using var u = backend.Allocate(paddedRows * dims.ValueDim);
        using var w = backend.Allocate(paddedRows * dims.KeyDim);
        using var aqk = backend.Allocate(paddedRows * GatedDeltaChunkKernels.ChunkSize);
        int chunks = dims.PaddedTokens / GatedDeltaChunkKernels.ChunkSize;
        prepare(Stream, new KernelConfig(backend.GridSize((long)chunks * dims.ValueHeads), backend.GroupSize(PrepareGroup)), View(q), View(k), View(v),
            View(g), View(beta), View(gamma), View(u), View(w), View(aqk), dims);
        int tiles = (dims.ValueDim + GatedDeltaChunkKernels.ValueTile - 1) / GatedDeltaChunkKernels.ValueTile;
        statePass(Stream, new KernelConfig(backend.GridSize((long)dims.ValueHeads * tiles), GatedDeltaChunkKernels.ValueTile), View(q), View(k),
            View(gamma), View(u), View(w), View(aqk), View(state), View(o), dims);
    }

    private void Recurrent(GatedDeltaKernelDims dims, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor g, DeviceTensor beta,
        DeviceTensor state, DeviceTensor o)
    {
        int group = backend.GroupSize(ElementwiseGroup);
        long columns = (long)dims.ValueHeads * dims.ValueDim;
        recurrent(Stream, new KernelConfig(backend.GridSize((columns + group - 1) / group), group), View(q), View(k), View(v), View(g), View(beta),
            View(state), View(o), dims);
    }

    private void NormalizeRows(DeviceTensor x, DeviceTensor y, int rows, int dim, float scale, bool l2)
        => l2Normalize(Stream, new KernelConfig(backend.GridSize(Tiles(rows)), backend.GroupSize(NormGroup)), View(x), View(y), rows, dim, scale, l2 ? 1 : 0);

    private static int Tiles(int rows) => (rows + GatedDeltaNormKernels.RowTile - 1) / GatedDeltaNormKernels.RowTile;

    private static GatedDeltaKernelDims Validate(GatedDeltaShape shape)
    {
        if (shape.Tokens < 1 || shape.KeyHeads < 1 || shape.ValueHeads % shape.KeyHeads != 0 || shape.KeyDim < 1 || shape.ValueDim < 1)
        {
            throw new ArgumentException($"Gated delta rule: invalid shape {shape} (need T ≥ 1 and Hv a multiple of Hk).", nameof(shape));
        }

        if (shape.KeyDim > GatedDeltaChunkKernels.MaxKeyDim)
        {
            throw new ArgumentException($"Gated delta rule: Dk {shape.KeyDim} exceeds the {GatedDeltaChunkKernels.MaxKeyDim} the kernels keep in shared memory.", nameof(shape));
        }

        return new GatedDeltaKernelDims(shape.Tokens, shape.KeyHeads, shape.ValueHeads, shape.KeyDim, shape.ValueDim);
    }

    private static ArrayView<float> View(DeviceTensor t) => IlgpuBackend.T(t).View;
}
