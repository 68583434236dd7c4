namespace Qwen3Next.Ops.Basic;

public static class ArgmaxReference
{
    /// <summary>Lowest index of the maximum, like torch.argmax on the CPU.</summary>
    public static int Row(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++)
        {
            if (x[i] > x[best])
            {
                best = i;
            }
        }

        return best;
    }
}
