using System.Diagnostics;

namespace Qwen3Next.Graph;

/// <summary>What one generation produced and how fast.</summary>
public sealed record GenerationResult(int[] PromptIds, int[] GeneratedIds, double PrefillSeconds, double DecodeSeconds)
{
    /// <summary>Decode rate: generated tokens after the first, over the decode time (the first comes from the prefill).</summary>
    public double TokensPerSecond => GeneratedIds.Length > 1 && DecodeSeconds > 0 ? (GeneratedIds.Length - 1) / DecodeSeconds : 0;

    public double PrefillTokensPerSecond => PrefillSeconds > 0 ? PromptIds.Length / PrefillSeconds : 0;
}

/// <summary>Prefill (optionally in chunks that continue from the cached state), then token-by-token decode.</summary>
public static class Generator
{
    /// <summary>
    /// Generates up to <paramref name="maxNewTokens"/> tokens after <paramref name="prompt"/> in a session of its own, so
    /// several threads may generate on one model at once (their forward passes take turns on the backend).
    /// <paramref name="onToken"/> sees each token as soon as it is chosen, before the next forward pass.
    /// </summary>
    public static GenerationResult Generate(Qwen3NextModel model, IReadOnlyList<int> prompt, int maxNewTokens, SamplingOptions sampling,
        IReadOnlySet<int>? stopTokens = null, int prefillChunk = 0, Action<int>? onToken = null, IForwardObserver? observer = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(sampling);
        if (prompt.Count == 0)
        {
            throw new ArgumentException("The prompt is empty.", nameof(prompt));
        }

        if (maxNewTokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxNewTokens), maxNewTokens, $"max-new-tokens must be ≥ 1 (got {maxNewTokens}).");
        }

        if ((long)prompt.Count + maxNewTokens > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(maxNewTokens), maxNewTokens,
                $"The prompt ({prompt.Count} tokens) plus max-new-tokens ({maxNewTokens}) exceeds the {int.MaxValue} positions a session can hold.");
        }

        if (prefillChunk < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(prefillChunk), prefillChunk, $"prefill-chunk must be ≥ 0 (0 = the whole prompt at once; got {prefillChunk}).");
        }

        var sampler = new TokenSampler(sampling);
        using var session = model.CreateSession(prompt.Count + maxNewTokens);
        var ids = prompt.ToArray();
        var clock = Stopwatch.StartNew();
        float[] logits = [];
        int chunk = prefillChunk > 0 ? prefillChunk : ids.Length;
        for (int start = 0; start < ids.Length; start += chunk)
        {
            logits = model.Forward(session, ids.AsSpan(start, Math.Min(chunk, ids.Length - start)), observer: observer);
        }

        var generated = new List<int> { sampler.Next(logits) };
        double prefill = clock.Elapsed.TotalSeconds;
        onToken?.Invoke(generated[0]);
        clock.Restart();
        while (generated.Count < maxNewTokens && !(stopTokens?.Contains(generated[^1]) ?? false))
        {
            logits = model.Forward(session, [generated[^1]], observer: observer);
            generated.Add(sampler.Next(logits));
            onToken?.Invoke(generated[^1]);
        }

        return new GenerationResult(ids, generated.ToArray(), prefill, clock.Elapsed.TotalSeconds);
    }
}
