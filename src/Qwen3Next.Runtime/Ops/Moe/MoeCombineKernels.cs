using ILGPU;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Ops.Moe;

/// <summary>
/// The weighted un-permute plus the gated shared expert:
/// <c>y[t] = Σ_j w[t,j] · yPerm[pairPos[t·k+j]] + sigmoid(sharedExpertGate·x[t]) · shared[t]</c>.
/// The j sum runs in rank order for every feature, as the reference does, so the result does not depend on
/// where the permutation put each row.
/// </summary>
public static class MoeCombineKernels
{
    /// <summary>One group per token (grid-stride). The shared-gate dot product goes through per-thread partials in
    /// shared memory, read back in a fixed order. Barriers per token: 2.</summary>
    public static void Combine(ArrayView<float> x, ArrayView<ushort> sharedExpertGate, ArrayView<float> yPerm, ArrayView<float> shared,
        ArrayView<int> pairPos, ArrayView<float> routeWeights, ArrayView<float> y, int tokens, int hidden, int topK)
    {
        var partial = SharedMemory.Allocate<float>(MoeRoutingKernels.MaxGroup);
        int tid = Group.IdxX, groupSize = Group.DimX;
        for (int t = Grid.IdxX; t < tokens; t += Grid.DimX)
        {
            long row = (long)t * hidden;
            float dot = 0;
            for (int c = tid; c < hidden; c += groupSize)
            {
                dot += x[row + c] * KernelMath.Bf16(sharedExpertGate[c]);
            }

            partial[tid] = dot;
            Group.Barrier();
            float gateLogit = 0;
            for (int u = 0; u < groupSize; u++)
            {
                gateLogit += partial[u];
            }

            float gate = KernelMath.Sigmoid(gateLogit);
            for (int c = tid; c < hidden; c += groupSize)
            {
                float acc = 0;
                for (int j = 0; j < topK; j++)
                {
                    long p = ((long)t * topK) + j;
                    acc += routeWeights[p] * yPerm[((long)pairPos[p] * hidden) + c];
                }

                y[row + c] = acc + (gate * shared[row + c]);
            }

            Group.Barrier();
        }
    }
}
