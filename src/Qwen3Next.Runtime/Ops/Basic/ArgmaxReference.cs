namespace Qwen3Next.Ops.Basic;

public static class ArgmaxReference
{
    /// <summary>Lowest index of the maximum, like torch.argmax on the CPU, except that NaN is ignored (as the
    /// kernels do); a row with no value above −∞ (all NaN or −∞) gives 0.</summary>
    public static int Row(ReadOnlySpan<float> x)
    {
        int best = -1;
        float bestValue = float.NegativeInfinity;
        for (int i = 0; i < x.Length; i++)
        {
            if (x[i] > bestValue)
            {
                bestValue = x[i];
                best = i;
            }
        }

        return Math.Max(best, 0);
    }
}
