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
/// Mixer, decode batch (one token per sequence): <see cref="GatedDeltaRecurrentKernels.FusedDecode"/> alone. Every kernel
/// takes the packed batch (its int buffer from <see cref="IlgpuBackend.Batches"/>): chunks never cross a sequence and
/// each sequence's conv window and delta-rule state live in its slot.
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
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GatedDeltaMixerDims> convGates;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, int, float, int> l2Normalize;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GatedDeltaMixerDims> gatedNorm;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GatedDeltaKernelDims> prepare;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GatedDeltaKernelDims> statePass;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, GatedDeltaKernelDims> recurrent;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GatedDeltaMixerDims> fusedDecode;

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
        Rule(shape, SequenceBatch.Single(0, shape.Tokens), q, k, v, g, beta, state, o, l2Normalize, scale, mode);
    }

    public void Rule(GatedDeltaShape shape, SequenceBatch batch, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor g, DeviceTensor beta,
        DeviceTensor states, DeviceTensor o, bool l2Normalize, float scale, GatedDeltaMode mode)
    {
        using var use = OpContracts.Rule(backend.Access, shape, batch, q, k, v, g, beta, states, o, scale);
        var dims = Validate(shape, batch);
        var meta = backend.Batches.Of(batch);
        long keyLength = (long)shape.Tokens * shape.KeyHeads * shape.KeyDim;
        using var qn = backend.Allocate(keyLength);
        using var kn = backend.Allocate(keyLength);
        NormalizeRows(q, qn, shape.Tokens * shape.KeyHeads, shape.KeyDim, scale, l2Normalize);
        NormalizeRows(k, kn, shape.Tokens * shape.KeyHeads, shape.KeyDim, 1f, l2Normalize);
        if (mode == GatedDeltaMode.Recurrent)
        {
            Recurrent(dims, meta, qn, kn, v, g, beta, states, o);
        }
        else
        {
            Chunked(dims, meta, qn, kn, v, g, beta, states, o);
        }
    }

    public void Mixer(GatedDeltaNetShape shape, int tokens, DeviceTensor qkvz, DeviceTensor ba, GatedDeltaNetWeights weights,
        LinearAttentionState state, DeviceTensor y)
    {
        using var use = OpContracts.GatedDeltaNet(backend.Access, shape, tokens, qkvz, ba, weights, state, y);
        Mixer(shape, SequenceBatch.Single(0, tokens), qkvz, ba, weights, LinearAttentionStatePool.Of(state), y);
    }

    public void Mixer(GatedDeltaNetShape shape, SequenceBatch batch, DeviceTensor qkvz, DeviceTensor ba, GatedDeltaNetWeights weights,
        LinearAttentionStatePool states, DeviceTensor y)
    {
        using var use = OpContracts.GatedDeltaNet(backend.Access, shape, batch, qkvz, ba, weights, states, y);
        int tokens = batch.TotalTokens;
        var rule = Validate(shape.Rule(tokens), batch);
        if (shape.ConvKernel is < 1 or > GatedDeltaConvKernels.MaxConvKernel)
        {
            throw new ArgumentException($"Gated DeltaNet mixer: conv kernel {shape.ConvKernel} is outside 1..{GatedDeltaConvKernels.MaxConvKernel}.", nameof(shape));
        }

        if (batch.IsDecode && (shape.KeyDim > GatedDeltaRecurrentKernels.MaxHeadDim || shape.ValueDim > GatedDeltaRecurrentKernels.MaxHeadDim))
        {
            throw new ArgumentException($"Fused decode: Dk {shape.KeyDim} / Dv {shape.ValueDim} exceed {GatedDeltaRecurrentKernels.MaxHeadDim}.", nameof(shape));
        }

        var dims = new GatedDeltaMixerDims(rule, shape.ConvKernel, shape.Eps);
        var meta = backend.Batches.Of(batch);
        var (convWeight, aLog, dtBias, norm) = (IlgpuBackend.W(weights.Conv).Bits, IlgpuBackend.W(weights.ALog).Values,
            IlgpuBackend.W(weights.DtBias).Values, IlgpuBackend.W(weights.Norm).Values);
        if (batch.IsDecode)
        {
            int group = backend.GroupSize(DecodeGroup);
            fusedDecode(Stream, new KernelConfig(backend.GridSize((long)batch.Count * shape.KeyHeads), group), meta, View(qkvz), View(ba), convWeight, aLog,
                dtBias, norm, View(states.Conv), View(states.Recurrent), View(y), dims);
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
        long units = ((long)batch.Count * shape.ConvDim) + shape.ValueHeads;
        convGates(Stream, new KernelConfig(backend.GridSize((units + elementGroup - 1) / elementGroup), elementGroup), meta, View(qkvz), View(ba),
            convWeight, aLog, dtBias, View(states.Conv), View(q), View(k), View(v), View(g), View(beta), dims);
        NormalizeRows(q, q, tokens * shape.KeyHeads, shape.KeyDim, dims.Scale, true);
        NormalizeRows(k, k, tokens * shape.KeyHeads, shape.KeyDim, 1f, true);
        Chunked(rule, meta, q, k, v, g, beta, states.Recurrent, o);
        int rows = tokens * shape.ValueHeads;
        gatedNorm(Stream, new KernelConfig(backend.GridSize(Tiles(rows)), backend.GroupSize(NormGroup)), View(o), View(qkvz), norm, View(y), dims);
    }

    private void Chunked(GatedDeltaKernelDims dims, ArrayView<int> meta, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor g,
        DeviceTensor beta, DeviceTensor states, DeviceTensor o)
    {
        long paddedRows = (long)dims.ValueHeads * dims.PaddedTokens;
        using var gamma = backend.Allocate(paddedRows);
        using var u = backend.Allocate(paddedRows * dims.ValueDim);
        using var w = backend.Allocate(paddedRows * dims.KeyDim);
        using var aqk = backend.Allocate(paddedRows * GatedDeltaChunkKernels.ChunkSize);
        prepare(Stream, new KernelConfig(backend.GridSize((long)dims.Batch.Chunks * dims.ValueHeads), backend.GroupSize(PrepareGroup)), meta, View(q),
            View(k), View(v), View(g), View(beta), View(gamma), View(u), View(w), View(aqk), dims);
        int tiles = (dims.ValueDim + GatedDeltaChunkKernels.ValueTile - 1) / GatedDeltaChunkKernels.ValueTile;
        statePass(Stream, new KernelConfig(backend.GridSize((long)dims.Batch.Sequences * dims.ValueHeads * tiles), GatedDeltaChunkKernels.ValueTile),
            meta, View(q), View(k), View(gamma), View(u), View(w), View(aqk), View(states), View(o), dims);
    }

    private void Recurrent(GatedDeltaKernelDims dims, ArrayView<int> meta, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor g,
        DeviceTensor beta, DeviceTensor states, DeviceTensor o)
    {
        int group = backend.GroupSize(ElementwiseGroup);
        long columns = (long)dims.Batch.Sequences * dims.ValueHeads * dims.ValueDim;
        recurrent(Stream, new KernelConfig(backend.GridSize((columns + group - 1) / group), group), meta, View(q), View(k), View(v), View(g), View(beta),
            View(states), View(o), dims);
    }

    private void NormalizeRows(DeviceTensor x, DeviceTensor y, int rows, int dim, float scale, bool l2)
        => l2Normalize(Stream, new KernelConfig(backend.GridSize(Tiles(rows)), backend.GroupSize(NormGroup)), View(x), View(y), rows, dim, scale, l2 ? 1 : 0);

    private static int Tiles(int rows) => (rows + GatedDeltaNormKernels.RowTile - 1) / GatedDeltaNormKernels.RowTile;

    private static GatedDeltaKernelDims Validate(GatedDeltaShape shape, SequenceBatch batch)
    {
        if (shape.Tokens < 1 || shape.KeyHeads < 1 || shape.ValueHeads % shape.KeyHeads != 0 || shape.KeyDim < 1 || shape.ValueDim < 1)
        {
            throw new ArgumentException($"Gated delta rule: invalid shape {shape} (need T ≥ 1 and Hv a multiple of Hk).", nameof(shape));
        }

        if (shape.KeyDim > GatedDeltaChunkKernels.MaxKeyDim)
        {
            throw new ArgumentException($"Gated delta rule: Dk {shape.KeyDim} exceeds the {GatedDeltaChunkKernels.MaxKeyDim} the kernels keep in shared memory.", nameof(shape));
        }

        return new GatedDeltaKernelDims(batch, shape.KeyHeads, shape.ValueHeads, shape.KeyDim, shape.ValueDim);
    }

    private static ArrayView<float> View(DeviceTensor t) => IlgpuBackend.T(t).View;
}
