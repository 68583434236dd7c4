namespace Qwen3Next.Graph;

/// <summary>
/// A forward pass produced NaN or ±Inf: in the logits (always checked; they are on the host already) or, when
/// <see cref="Qwen3NextModel.CheckActivations"/> is on, in the residual stream after the embedding or a layer.
/// The session that ran the pass is unusable afterwards (its state holds the same values).
/// </summary>
public sealed class NonFiniteValueException(string message, int step, int? layer, double offendingNumber)
    : NotFiniteNumberException(message, offendingNumber)
{
    /// <summary>The session's forward pass (0 = the first) that produced the values.</summary>
    public int Step { get; } = step;

    /// <summary>The first layer whose output was non-finite: −1 for the embedding, null when activations were not checked
    /// or every layer was finite (the final norm or lm_head produced them).</summary>
    public int? Layer { get; } = layer;
}

/// <summary>Finds the first non-finite value of a host buffer.</summary>
internal static class NonFiniteScan
{
    /// <returns>The index of the first NaN or ±Inf, and how many there are; (−1, 0) when every value is finite.</returns>
    public static (int First, int Count) Find(ReadOnlySpan<float> values)
    {
        int first = -1, count = 0;
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                count++;
                if (first < 0)
                {
                    first = i;
                }
            }
        }

        return (first, count);
    }
}
