using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Graph;

/// <summary>How the next token is chosen. Temperature 0 is greedy (argmax, lowest id on ties).</summary>
public sealed record SamplingOptions(float Temperature = 0f, float TopP = 1f, int TopK = 0, int Seed = 0)
{
    public static SamplingOptions Greedy { get; } = new();

    public bool IsGreedy => Temperature <= 0f;

    public void Validate()
    {
        if (!(Temperature >= 0) || float.IsInfinity(Temperature))
        {
            throw new ArgumentException($"temperature must be a finite number ≥ 0 (got {Temperature}).");
        }

        // Written so that NaN fails too: every comparison with NaN is false.
        if (!(TopP > 0f && TopP <= 1f))
        {
            throw new ArgumentException($"top-p must be in (0, 1] (got {TopP}).");
        }

        if (TopK < 0)
        {
            throw new ArgumentException($"top-k must be ≥ 0 (got {TopK}; 0 disables it).");
        }
    }
}

/// <summary>Greedy, or temperature sampling restricted by top-k then top-p, reproducible from a seed.</summary>
public sealed class TokenSampler
{
    private readonly SamplingOptions options;
    private readonly Random random;

    public TokenSampler(SamplingOptions options)
    {
        options.Validate();
        this.options = options;
        random = new Random(options.Seed);
    }

    public int Next(ReadOnlySpan<float> logits) => options.IsGreedy ? ArgmaxReference.Row(logits) : Choose(logits, options, random.NextDouble());

    /// <summary>The token that a uniform draw <paramref name="u"/> in [0, 1) chooses under temperature, top-k then top-p
    /// (the device sampler follows the same rule with its own draws).</summary>
    internal static int Choose(ReadOnlySpan<float> logits, SamplingOptions options, double u)
    {

        var order = new int[logits.Length];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        var scaled = new double[logits.Length];
        for (int i = 0; i < scaled.Length; i++)
        {
            scaled[i] = logits[i] / options.Temperature;
        }

        Array.Sort(order, (a, b) => scaled[b] != scaled[a] ? scaled[b].CompareTo(scaled[a]) : a.CompareTo(b));
        int keep = options.TopK > 0 ? Math.Min(options.TopK, order.Length) : order.Length;
        double max = scaled[order[0]], total = 0;
        var probs = new double[keep];
        for (int i = 0; i < keep; i++)
        {
            probs[i] = Math.Exp(scaled[order[i]] - max);
            total += probs[i];
        }

        // Smallest prefix whose probability mass reaches top-p (always at least one token).
        double mass = 0;
        int nucleus = 0;
        while (nucleus < keep && (nucleus == 0 || mass < options.TopP * total))
        {
            mass += probs[nucleus++];
        }

        double pick = u * mass;
        for (int i = 0; i < nucleus; i++)
        {
            pick -= probs[i];
            if (pick <= 0)
            {
                return order[i];
            }
        }

        return order[nucleus - 1];
    }
}
