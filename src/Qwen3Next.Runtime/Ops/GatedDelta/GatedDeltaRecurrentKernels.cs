using ILGPU;
using ILGPU.Algorithms;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Ops.GatedDelta;

/// <summary>
/// The token-by-token gated delta rule. A step on column d of a head's state S <c>[Dk, Dv]</c> only touches that
/// column, so one thread owns one column and needs no barrier. Each step reads the column twice and writes it once:
/// with a = Sᵀk and b = Sᵀq of the old state, u = β(v − e^g·a) and o = e^g·b + u·(k·q) equal HF's
/// (S ← e^g S; u = β(v − Sᵀk); S += k uᵀ; o = Sᵀq), then S ← e^g S + k uᵀ.
/// State <c>[Hv, Dk, Dv]</c> is updated in place; adjacent threads own adjacent columns, so every state access is
/// coalesced.
/// </summary>
public static class GatedDeltaRecurrentKernels
{
    /// <summary>Largest Dk and Dv the fused decode stages in shared memory (the real model's 128).</summary>
    public const int MaxHeadDim = 128;

    /// <summary>Largest group the fused decode's shared partial sums are sized for.</summary>
    public const int MaxDecodeGroup = 256;

    /// <summary>
    /// The bare rule over a packed batch. q, k <c>[T, Hk, Dk]</c> already normalised (q scaled), v and o <c>[T, Hv, Dv]</c>,
    /// g and β <c>[T, Hv]</c>, state pool <c>[slots, Hv, Dk, Dv]</c>. One thread per (sequence, value head, column),
    /// grid-stride, running the sequence's tokens on its slot.
    /// </summary>
    public static void RecurrentRule(ArrayView<int> batch, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> g,
        ArrayView<float> beta, ArrayView<float> state, ArrayView<float> o, GatedDeltaKernelDims dims)
    {
        int hv = dims.ValueHeads, dk = dims.KeyDim, dvDim = dims.ValueDim;
        var layout = dims.Batch;
        for (int unit = (Grid.IdxX * Group.DimX) + Group.IdxX; unit < layout.Sequences * hv * dvDim; unit += Grid.DimX * Group.DimX)
        {
            int sequence = unit / (hv * dvDim), column = unit % (hv * dvDim);
            int h = column / dvDim, d = column % dvDim, kh = h / dims.Group;
            long stateColumn = ((((long)batch[layout.SlotIds + sequence] * hv) + h) * dk * dvDim) + d;
            int end = batch[layout.CuSeqlens + sequence + 1];
            for (int t = batch[layout.CuSeqlens + sequence]; t < end; t++)
            {
                long keyRow = (((long)t * dims.KeyHeads) + kh) * dk;
                float a = 0, b = 0, kq = 0;
                for (int m = 0; m < dk; m++)
                {
                    float sm = state[stateColumn + ((long)m * dvDim)], km = k[keyRow + m], qm = q[keyRow + m];
                    a += sm * km;
                    b += sm * qm;
                    kq += km * qm;
                }

                long valueIndex = ((((long)t * hv) + h) * dvDim) + d;
                float decay = XMath.Exp(g[(t * hv) + h]);
                float update = beta[(t * hv) + h] * (v[valueIndex] - (decay * a));
                o[valueIndex] = (decay * b) + (update * kq);
                for (int m = 0; m < dk; m++)
                {
                    long index = stateColumn + ((long)m * dvDim);
                    state[index] = (decay * state[index]) + (k[keyRow + m] * update);
                }
            }
        }
    }

    /// <summary>
    /// A decode batch (token b = sequence b, on its state slot) through the whole mixer core: conv1d state update + SiLU,
    /// q/k l2 norm, gates, the delta step, the output and the gated RMSNorm. One (sequence, key head) per group,
    /// grid-stride, so the q/k conv channels (shared by the key head's r value heads) are advanced exactly once. Threads stride over Dk for q/k, then over Dv for
    /// each value head. Barriers per key head: 1 (q/k norms) + 2 per value head (rms of o, then reuse of the scratch).
    /// qkvz <c>[B, QkvzWidth]</c>, ba <c>[B, 2·Hv]</c>, conv states <c>[slots, ConvDim, K]</c>, states <c>[slots, Hv, Dk, Dv]</c>,
    /// y <c>[B, Hv·Dv]</c>.
    /// </summary>
    public static void FusedDecode(ArrayView<int> batch, ArrayView<float> qkvzAll, ArrayView<float> baAll, ArrayView<ushort> convWeight,
        ArrayView<float> aLog, ArrayView<float> dtBias, ArrayView<float> normWeight, ArrayView<float> convStates, ArrayView<float> states,
        ArrayView<float> yAll, GatedDeltaMixerDims dims)
    {
        var qs = SharedMemory.Allocate<float>(MaxHeadDim);
        var ks = SharedMemory.Allocate<float>(MaxHeadDim);
        var os = SharedMemory.Allocate<float>(MaxHeadDim);
        var keyPartials = SharedMemory.Allocate<float>(3 * MaxDecodeGroup);
        var outPartials = SharedMemory.Allocate<float>(MaxDecodeGroup);
        var rule = dims.Rule;
        int dk = rule.KeyDim, dvDim = rule.ValueDim, r = rule.Group, tid = Group.IdxX, threads = Group.DimX;
        int keyWidth = rule.KeyHeads * dk;
        var layout = rule.Batch;
        for (int unit = Grid.IdxX; unit < layout.Sequences * rule.KeyHeads; unit += Grid.DimX)
        {
            int sequence = unit / rule.KeyHeads, kh = unit % rule.KeyHeads, slot = batch[layout.SlotIds + sequence];
            var qkvz = qkvzAll.SubView((long)sequence * dims.QkvzWidth, dims.QkvzWidth);
            var ba = baAll.SubView((long)sequence * 2 * rule.ValueHeads, 2 * rule.ValueHeads);
            var y = yAll.SubView((long)sequence * rule.ValueHeads * dvDim, rule.ValueHeads * dvDim);
            var convState = convStates.SubView((long)slot * dims.ConvDim * dims.ConvKernel, dims.ConvDim * dims.ConvKernel);
            var state = states.SubView((long)slot * rule.ValueHeads * dk * dvDim, rule.ValueHeads * dk * dvDim);
            int groupColumn = kh * dims.GroupWidth;
            float sq = 0, sk = 0, sqk = 0;
            for (int i = tid; i < dk; i += threads)
            {
                float qi = ConvStep(qkvz[groupColumn + i], (kh * dk) + i, convWeight, convState, dims.ConvKernel);
                float ki = ConvStep(qkvz[groupColumn + dk + i], keyWidth + (kh * dk) + i, convWeight, convState, dims.ConvKernel);
                qs[i] = qi;
                ks[i] = ki;
                sq += qi * qi;
                sk += ki * ki;
                sqk += qi * ki;
            }

            keyPartials[tid] = sq;
            keyPartials[threads + tid] = sk;
            keyPartials[(2 * threads) + tid] = sqk;
            Group.Barrier();
            sq = 0;
            sk = 0;
            sqk = 0;
            for (int p = 0; p < threads; p++)
            {
                sq += keyPartials[p];
                sk += keyPartials[threads + p];
                sqk += keyPartials[(2 * threads) + p];
            }

            float qFactor = dims.Scale * XMath.Rsqrt(sq + GatedDeltaNormKernels.L2Eps);
            float kFactor = XMath.Rsqrt(sk + GatedDeltaNormKernels.L2Eps);
            float kq = sqk * qFactor * kFactor;
            for (int j = 0; j < r; j++)
            {
                int h = (kh * r) + j;
                float decay = XMath.Exp(-XMath.Exp(aLog[h]) * KernelMath.Softplus(ba[(kh * 2 * r) + r + j] + dtBias[h]));
                float betaH = KernelMath.Sigmoid(ba[(kh * 2 * r) + j]);
                int vColumn = dims.VColumn(h);
                float so = 0;
                for (int d = tid; d < dvDim; d += threads)
                {
                    float vd = ConvStep(qkvz[vColumn + d], (2 * keyWidth) + (h * dvDim) + d, convWeight, convState, dims.ConvKernel);
                    long stateColumn = ((long)h * dk * dvDim) + d;
                    float a = 0, b = 0;
                    for (int m = 0; m < dk; m++)
                    {
                        float sm = state[stateColumn + ((long)m * dvDim)];
                        a += sm * ks[m];
                        b += sm * qs[m];
                    }

                    float update = betaH * (vd - (decay * a * kFactor));
                    float od = (decay * b * qFactor) + (update * kq);
                    float keyUpdate = update * kFactor;
                    for (int m = 0; m < dk; m++)
                    {
                        long index = stateColumn + ((long)m * dvDim);
                        state[index] = (decay * state[index]) + (ks[m] * keyUpdate);
                    }

                    os[d] = od;
                    so += od * od;
                }

                outPartials[tid] = so;
                Group.Barrier();
                so = 0;
                for (int p = 0; p < threads; p++)
                {
                    so += outPartials[p];
                }

                float inv = XMath.Rsqrt((so / dvDim) + dims.NormEps);
                int zColumn = dims.ZColumn(h);
                for (int d = tid; d < dvDim; d += threads)
                {
                    y[(h * dvDim) + d] = normWeight[d] * (os[d] * inv) * KernelMath.Silu(qkvz[zColumn + d]);
                }

                Group.Barrier();
            }
        }
    }

    /// <summary>Appends x to channel c's conv window (state row <c>[K]</c>, newest last) and returns silu(conv).</summary>
    private static float ConvStep(float x, int channel, ArrayView<ushort> convWeight, ArrayView<float> convState, int kernel)
    {
        long row = (long)channel * kernel;
        float sum = 0;
        for (int j = 0; j < kernel - 1; j++)
        {
            float previous = convState[row + j + 1];
            convState[row + j] = previous;
            sum += KernelMath.Bf16(convWeight[row + j]) * previous;
        }

        convState[row + kernel - 1] = x;
        sum += KernelMath.Bf16(convWeight[row + kernel - 1]) * x;
        return KernelMath.Silu(sum);
    }
}
