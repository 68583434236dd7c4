using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Qwen3Next.Graph;

/// <summary>What one generation produced and how fast.</summary>
public sealed record GenerationResult(int[] PromptIds, int[] GeneratedIds, double PrefillSeconds, double DecodeSeconds)
{
    /// <summary>Decode rate: generated tokens after the first, over the decode time (the first comes from the prefill).</summary>
    public double TokensPerSecond => GeneratedIds.Length > 1 && DecodeSeconds > 0 ? (GeneratedIds.Length - 1) / DecodeSeconds : 0;

    public double PrefillTokensPerSecond => PrefillSeconds > 0 ? PromptIds.Length / PrefillSeconds : 0;
}

/// <summary>Prefill (optionally in chunks that continue from the cached state), then token-by-token decode.</summary>
/// <remarks>Both entry points check <see cref="CancellationToken"/> before every forward pass and dispose their session
/// however they end (finished, cancelled, failed, or an enumeration abandoned part-way), so an engine can stop a request
/// at any token without leaking device memory (<see cref="Qwen3NextModel.OpenSessions"/> counts what is still held).</remarks>
public static class Generator
{
    /// <summary>Prompt tokens per prefill pass unless told otherwise: activations and the experts a pass selects stay
    /// bounded by the chunk, not the prompt (a 262K-token prompt in one pass would need ~80 GB of activations on the
    /// 80B model), and a chunk of 512 already fills the GEMMs.</summary>
    public const int DefaultPrefillChunk = 512;

    /// <summary>
    /// Generates up to <paramref name="maxNewTokens"/> tokens after <paramref name="prompt"/> in a session of its own, so
    /// several threads may generate on one model at once (their forward passes take turns on the backend).
    /// <paramref name="onToken"/> sees each token as soon as it is chosen, before the next forward pass.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the session is freed.</exception>
    public static GenerationResult Generate(Qwen3NextModel model, IReadOnlyList<int> prompt, int maxNewTokens, SamplingOptions sampling,
        IReadOnlySet<int>? stopTokens = null, int prefillChunk = DefaultPrefillChunk, Action<int>? onToken = null, IForwardObserver? observer = null,
        CancellationToken cancellationToken = default)
    {
        Validate(model, prompt, maxNewTokens, sampling, prefillChunk);
        cancellationToken.ThrowIfCancellationRequested();
        var sampler = new TokenSampler(sampling);
        using var session = model.CreateSession(prompt.Count + maxNewTokens, FirstPassTokens(prompt.Count, prefillChunk));
        using var device = model.CreateDeviceSampler(sampling);
        var ids = prompt.ToArray();
        var clock = Stopwatch.StartNew();
        var generated = new List<int> { Prefill(model, session, ids, prefillChunk, sampler, device, observer, cancellationToken) };
        double prefill = clock.Elapsed.TotalSeconds;
        onToken?.Invoke(generated[0]);
        clock.Restart();
        while (generated.Count < maxNewTokens && !(stopTokens?.Contains(generated[^1]) ?? false))
        {
            cancellationToken.ThrowIfCancellationRequested();
            generated.Add(Next(model, session, [generated[^1]], sampler, device, observer));
            onToken?.Invoke(generated[^1]);
        }

        return new GenerationResult(ids, generated.ToArray(), prefill, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// The same generation as <see cref="Generate"/>, as an asynchronous stream: each token is yielded as soon as it is
    /// chosen, and forward passes run on the thread pool. Stopping early (<c>break</c> out of <c>await foreach</c>, or
    /// cancelling <paramref name="cancellationToken"/>) frees the session before the enumeration ends.
    /// </summary>
    public static async IAsyncEnumerable<int> StreamAsync(Qwen3NextModel model, IReadOnlyList<int> prompt, int maxNewTokens, SamplingOptions sampling,
        IReadOnlySet<int>? stopTokens = null, int prefillChunk = DefaultPrefillChunk, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Validate(model, prompt, maxNewTokens, sampling, prefillChunk);
        cancellationToken.ThrowIfCancellationRequested();
        var sampler = new TokenSampler(sampling);
        using var session = model.CreateSession(prompt.Count + maxNewTokens, FirstPassTokens(prompt.Count, prefillChunk));
        using var device = model.CreateDeviceSampler(sampling);
        var ids = prompt.ToArray();
        int token = await Task.Run(() => Prefill(model, session, ids, prefillChunk, sampler, device, null, cancellationToken), cancellationToken).ConfigureAwait(false);
        yield return token;
        for (int count = 1; count < maxNewTokens && !(stopTokens?.Contains(token) ?? false); count++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int last = token;
            token = await Task.Run(() => Next(model, session, [last], sampler, device, null), cancellationToken).ConfigureAwait(false);
            yield return token;
        }
    }

    /// <summary>Tokens of the first prefill pass, the largest one: what the session reserves activations for.</summary>
    private static int FirstPassTokens(int promptTokens, int prefillChunk)
        => Math.Max(1, prefillChunk > 0 ? Math.Min(prefillChunk, promptTokens) : promptTokens);

    /// <summary>Prefill in chunks of <paramref name="prefillChunk"/> tokens (0: the whole prompt in one pass); the last
    /// chunk's pass chooses the first token.</summary>
    private static int Prefill(Qwen3NextModel model, InferenceSession session, int[] ids, int prefillChunk, TokenSampler sampler, DeviceTokenSampler? device,
        IForwardObserver? observer, CancellationToken cancellationToken)
    {
        int chunk = prefillChunk > 0 ? prefillChunk : ids.Length;
        int start = 0;
        for (; start + chunk < ids.Length; start += chunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            model.Forward(session, ids.AsSpan(start, chunk), observer: observer);
        }

        cancellationToken.ThrowIfCancellationRequested();
        return Next(model, session, ids.AsSpan(start), sampler, device, observer);
    }

    /// <summary>One forward pass and the token it chooses: on the device when the backend samples there (only the id
    /// comes back), otherwise from the logits with the host sampler.</summary>
    private static int Next(Qwen3NextModel model, InferenceSession session, ReadOnlySpan<int> input, TokenSampler sampler, DeviceTokenSampler? device,
        IForwardObserver? observer)
        => device is not null ? model.ForwardSampled(session, input, device, observer) : sampler.Next(model.Forward(session, input, observer: observer));

    private static void Validate(Qwen3NextModel model, IReadOnlyList<int> prompt, int maxNewTokens, SamplingOptions sampling, int prefillChunk)
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
    }
}
