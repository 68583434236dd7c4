namespace Qwen3Next.Ops.Moe;

/// <summary>
/// The order top-k routing ranks experts in, shared by the reference and the ILGPU kernel (the CUDA C kernel
/// implements the same): higher probability first, ties to the lower expert id, and NaN below every number (NaN
/// among themselves by id). It is a strict total order, so every rank 0..E−1 belongs to exactly one expert and the
/// selected ids are always in [0, E), whatever the logits hold.
/// </summary>
public static class RoutingOrder
{
    /// <summary>Whether expert <paramref name="a"/> with probability <paramref name="pa"/> ranks before expert <paramref name="b"/>.</summary>
    /// <remarks>NaN is the only value that is not ≥ −∞, a plain comparison in the emitted PTX; <c>float.IsNaN</c> becomes
    /// <c>testp.notanumber</c>, which the PTX emulator does not implement.</remarks>
    public static bool Before(float pa, int a, float pb, int b)
    {
        bool aIsNaN = !(pa >= float.NegativeInfinity), bIsNaN = !(pb >= float.NegativeInfinity);
        if (aIsNaN)
        {
            return bIsNaN && a < b;
        }

        return bIsNaN || pa > pb || (pa == pb && a < b);
    }
}
