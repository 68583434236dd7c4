using ILGPU;
using ILGPU.Algorithms;

namespace Qwen3Next.Ops.Basic;

/// <summary>Device-side helpers shared by the ILGPU kernels: bf16 widening and warp/group reductions.
/// The reductions assume a group of whole warps and a shared scratch of at least one float per warp.</summary>
public static class KernelMath
{
    public static float Bf16(ushort bits) => Interop.IntAsFloat((uint)bits << 16);

    public static float Sigmoid(float x) => 1f / (1f + XMath.Exp(-x));

    public static float Silu(float x) => x / (1f + XMath.Exp(-x));

    public static float Softplus(float x) => x > 20f ? x : XMath.Log(1f + XMath.Exp(x));

    public static float WarpSum(float value)
    {
        for (int delta = Warp.WarpSize / 2; delta > 0; delta /= 2)
        {
            value += Warp.ShuffleDown(value, delta);
        }

        return value;
    }

    public static float WarpMax(float value)
    {
        for (int delta = Warp.WarpSize / 2; delta > 0; delta /= 2)
        {
            value = XMath.Max(value, Warp.ShuffleDown(value, delta));
        }

        return value;
    }

    /// <summary>
    /// Sum over the whole group; every thread gets the result. Partials go through shared memory
    /// (<paramref name="scratch"/> holds at least one float per thread) with two barriers, which is
    /// cheap on a GPU and, unlike a shuffle tree, cheap on the CPU accelerator too.
    /// </summary>
    public static float GroupSum(float value, ArrayView<float> scratch)
    {
        scratch[Group.IdxX] = value;
        Group.Barrier();
        float total = 0;
        for (int i = 0; i < Group.DimX; i++)
        {
            total += scratch[i];
        }

        Group.Barrier();
        return total;
    }

    /// <summary>Maximum over the whole group, like <see cref="GroupSum"/>.</summary>
    public static float GroupMax(float value, ArrayView<float> scratch)
    {
        scratch[Group.IdxX] = value;
        Group.Barrier();
        float best = float.NegativeInfinity;
        for (int i = 0; i < Group.DimX; i++)
        {
            best = XMath.Max(best, scratch[i]);
        }

        Group.Barrier();
        return best;
    }
}
