using ILGPU;
using ILGPU.Algorithms;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Ops.GatedDelta;

/// <summary>
/// The prefill front of the mixer over a packed batch: ungroup + causal depthwise conv1d + SiLU, fused with the gates.
/// Layouts: qkvz <c>[T, QkvzWidth]</c> and ba <c>[T, 2·Hv]</c> grouped per key head (see <see cref="GatedDeltaMixerDims"/>);
/// conv weight bf16 <c>[ConvDim, K]</c>; conv states <c>[slots, ConvDim, K]</c>, column K-1 newest; outputs q, k <c>[T, Hk, Dk]</c>,
/// v <c>[T, Hv, Dv]</c>, g and β <c>[T, Hv]</c>. Each sequence's window starts from its slot and never reaches another's tokens.
/// </summary>
public static class GatedDeltaConvKernels
{
    /// <summary>The conv window is kept in registers; the real model has K = 4.</summary>
    public const int MaxConvKernel = 8;

    /// <summary>
    /// One thread per work unit, grid-stride: units [0, B·ConvDim) are (sequence, conv channel), each sliding its K-wide
    /// window over the sequence's tokens and leaving the last K inputs in its slot; units [B·ConvDim, B·ConvDim + Hv)
    /// compute the gates of one value head for every token. Adjacent threads take adjacent channels, so the qkvz reads
    /// inside one key-head block and all writes are coalesced. No barriers.
    /// </summary>
    public static void ConvGates(ArrayView<int> batch, ArrayView<float> qkvz, ArrayView<float> ba, ArrayView<ushort> convWeight, ArrayView<float> aLog,
        ArrayView<float> dtBias, ArrayView<float> convState, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v,
        ArrayView<float> g, ArrayView<float> beta, GatedDeltaMixerDims dims)
    {
        var rule = dims.Rule;
        var layout = rule.Batch;
        int keyWidth = rule.KeyHeads * rule.KeyDim, valueWidth = rule.ValueHeads * rule.ValueDim, kernel = dims.ConvKernel;
        int convUnits = layout.Sequences * dims.ConvDim, units = convUnits + rule.ValueHeads;
        for (int work = (Grid.IdxX * Group.DimX) + Group.IdxX; work < units; work += Grid.DimX * Group.DimX)
        {
            if (work >= convUnits)
            {
                Gates(ba, aLog, dtBias, g, beta, work - convUnits, rule);
                continue;
            }

            int sequence = work / dims.ConvDim, unit = work % dims.ConvDim;
            int first = batch[layout.CuSeqlens + sequence], end = batch[layout.CuSeqlens + sequence + 1];

            // Source column in a qkvz row and destination (buffer, column, row width) of this channel.
            int column, outColumn, outWidth, part;
            if (unit < keyWidth)
            {
                column = ((unit / rule.KeyDim) * dims.GroupWidth) + (unit % rule.KeyDim);
                part = 0;
                outColumn = unit;
                outWidth = keyWidth;
            }
            else if (unit < 2 * keyWidth)
            {
                int c = unit - keyWidth;
                column = ((c / rule.KeyDim) * dims.GroupWidth) + rule.KeyDim + (c % rule.KeyDim);
                part = 1;
                outColumn = c;
                outWidth = keyWidth;
            }
            else
            {
                int c = unit - (2 * keyWidth);
                column = dims.VColumn(c / rule.ValueDim) + (c % rule.ValueDim);
                part = 2;
                outColumn = c;
                outWidth = valueWidth;
            }

            var window = LocalMemory.Allocate<float>(MaxConvKernel);
            var weights = LocalMemory.Allocate<float>(MaxConvKernel);
            long weightRow = (long)unit * kernel;
            long stateRow = (((long)batch[layout.SlotIds + sequence] * dims.ConvDim) + unit) * kernel;
            for (int j = 0; j < kernel; j++)
            {
                window[j] = convState[stateRow + j];
                weights[j] = KernelMath.Bf16(convWeight[weightRow + j]);
            }

            for (int t = first; t < end; t++)
            {
                float sum = 0;
                for (int j = 0; j < kernel - 1; j++)
                {
                    window[j] = window[j + 1];
                    sum += weights[j] * window[j];
                }

                float input = qkvz[((long)t * dims.QkvzWidth) + column];
                window[kernel - 1] = input;
                sum += weights[kernel - 1] * input;
                float activated = KernelMath.Silu(sum);
                long outIndex = ((long)t * outWidth) + outColumn;
                if (part == 0)
                {
                    q[outIndex] = activated;
                }
                else if (part == 1)
                {
                    k[outIndex] = activated;
                }
                else
                {
                    v[outIndex] = activated;
                }
            }

            for (int j = 0; j < kernel; j++)
            {
                convState[stateRow + j] = window[j];
            }
        }
    }

    /// <summary>g = −exp(A_log)·softplus(a + dt_bias) and β = sigmoid(b) of value head h for every token.</summary>
    private static void Gates(ArrayView<float> ba, ArrayView<float> aLog, ArrayView<float> dtBias, ArrayView<float> g,
        ArrayView<float> beta, int h, GatedDeltaKernelDims rule)
    {
        int r = rule.Group, baWidth = 2 * rule.ValueHeads;
        int bColumn = ((h / r) * 2 * r) + (h % r);
        float decayRate = -XMath.Exp(aLog[h]), bias = dtBias[h];
        for (int t = 0; t < rule.Tokens; t++)
        {
            long row = (long)t * baWidth;
            g[(t * rule.ValueHeads) + h] = decayRate * KernelMath.Softplus(ba[row + bColumn + r] + bias);
            beta[(t * rule.ValueHeads) + h] = KernelMath.Sigmoid(ba[row + bColumn]);
        }
    }
}
