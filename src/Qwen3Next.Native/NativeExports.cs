using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;

namespace Qwen3Next.Native;

/// <summary>
/// The entry points native/qwen3next.c forwards to, one per C function of native/qwen3next.h. Each returns a status
/// code and never lets an exception out (an exception crossing into native code would end the process): failures set
/// the thread's last-error message. Handles are 64-bit ids from <see cref="HandleTable"/>.
/// </summary>
/// <remarks>qn_batch_* is <see cref="BatchSession"/>: many sequences in one forward pass, each named by its sequence id
/// within the batch.</remarks>
public static unsafe class NativeExports
{
    private const string Model = "model", Session = "session", Sampler = "sampler", Batch = "batch";

    [UnmanagedCallersOnly]
    public static byte* LastErrorMessage() => LastError.Pointer;

    [UnmanagedCallersOnly]
    public static int ModelLoad(byte* folder, byte* backend, ulong* model) => Run(() =>
    {
        Out(model)[0] = 0;
        string path = Text(folder, nameof(folder));
        using var checkpoint = QwenCheckpoint.Open(path);
        var kernels = BackendRegistry.Create(backend is null ? "reference" : Text(backend, nameof(backend)));
        try
        {
            Out(model)[0] = HandleTable.Add(Qwen3NextModel.Load(kernels, checkpoint));
        }
        catch
        {
            kernels.Dispose();
            throw;
        }
    });

    [UnmanagedCallersOnly]
    public static int ModelVocabularySize(ulong model, int* size) => Run(() => Out(size)[0] = HandleTable.Get<Qwen3NextModel>(model, Model).Config.VocabSize);

    [UnmanagedCallersOnly]
    public static int ModelFree(ulong model) => Run(() =>
    {
        var loaded = HandleTable.Remove<Qwen3NextModel>(model, Model);
        loaded.Dispose();
        loaded.Backend.Dispose();
    });

    [UnmanagedCallersOnly]
    public static int SessionCreate(ulong model, int maxTokens, ulong* session) => Run(() =>
    {
        Out(session)[0] = 0;
        var loaded = HandleTable.Get<Qwen3NextModel>(model, Model);
        Out(session)[0] = HandleTable.Add(new NativeSession(loaded, loaded.CreateSession(maxTokens)));
    });

    [UnmanagedCallersOnly]
    public static int SessionFree(ulong session) => Run(() => HandleTable.Remove<NativeSession>(session, Session).Session.Dispose());

    [UnmanagedCallersOnly]
    public static int SessionStep(ulong session, int* tokens, int count) => Run(() =>
    {
        var s = HandleTable.Get<NativeSession>(session, Session);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1, nameof(count));
        s.LastLogits = s.Model.Forward(s.Session, new ReadOnlySpan<int>(In(tokens, nameof(tokens)), count));
    });

    [UnmanagedCallersOnly]
    public static int SessionPosition(ulong session, int* position) => Run(() => Out(position)[0] = HandleTable.Get<NativeSession>(session, Session).Session.Position);

    [UnmanagedCallersOnly]
    public static int SessionLogits(ulong session, float* logits, int capacity) => Run(() =>
    {
        var last = HandleTable.Get<NativeSession>(session, Session).LastLogits
            ?? throw new InvalidOperationException("The session has no logits yet: call qn_session_step first.");
        if (capacity < last.Length)
        {
            throw new BufferTooSmallException($"The logits need {last.Length} floats; the buffer holds {capacity}.");
        }

        last.CopyTo(new Span<float>(Out(logits), capacity));
    });

    [UnmanagedCallersOnly]
    public static int BatchCreate(ulong model, int maxSequences, int maxTokensPerSequence, int pageSize, ulong* batch) => Run(() =>
    {
        Out(batch)[0] = 0;
        var loaded = HandleTable.Get<Qwen3NextModel>(model, Model);
        Out(batch)[0] = HandleTable.Add(new NativeBatch(loaded.CreateBatch(new BatchOptions(maxSequences, maxTokensPerSequence, pageSize))));
    });

    [UnmanagedCallersOnly]
    public static int BatchFree(ulong batch) => Run(() => HandleTable.Remove<NativeBatch>(batch, Batch).Session.Dispose());

    [UnmanagedCallersOnly]
    public static int BatchAdd(ulong batch, long* sequence) => Run(() =>
    {
        Out(sequence)[0] = -1;
        Out(sequence)[0] = HandleTable.Get<NativeBatch>(batch, Batch).Session.Add().Value;
    });

    [UnmanagedCallersOnly]
    public static int BatchFinish(ulong batch, long sequence) => Run(() =>
    {
        var b = HandleTable.Get<NativeBatch>(batch, Batch);
        b.Session.Finish(new SequenceId(sequence));
        b.Logits.TryRemove(sequence, out _);
    });

    /// <summary>One forward pass: sequence i of <paramref name="sequences"/> feeds <paramref name="tokenCounts"/>[i] tokens,
    /// taken in order from the packed <paramref name="tokens"/>. Every sequence's logits are kept; a sequence whose logits are
    /// non-finite makes the call NonFinite (naming it) after the others' logits are kept.</summary>
    [UnmanagedCallersOnly]
    public static int BatchStep(ulong batch, long* sequences, int* tokenCounts, int count, int* tokens) => Run(() =>
    {
        var b = HandleTable.Get<NativeBatch>(batch, Batch);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1, nameof(count));
        var ids = new ReadOnlySpan<long>(In(sequences, nameof(sequences)), count);
        var counts = new ReadOnlySpan<int>(In(tokenCounts, nameof(tokenCounts)), count);
        long total = 0;
        foreach (int n in counts)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(n, 1, nameof(tokenCounts));
            total += n;
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(total, int.MaxValue, "the sum of token_counts");
        var packed = new ReadOnlySpan<int>(In(tokens, nameof(tokens)), (int)total).ToArray();
        var steps = new SequenceStep[count];
        for (int i = 0, at = 0; i < count; at += counts[i], i++)
        {
            steps[i] = new SequenceStep(new SequenceId(ids[i]), packed.AsMemory(at, counts[i]));
        }

        string? fault = null;
        foreach (var output in b.Session.Step(steps))
        {
            if (output.Logits is { } logits)
            {
                b.Logits[output.Sequence.Value] = logits;
            }
            else
            {
                b.Logits.TryRemove(output.Sequence.Value, out _);
                fault ??= $"{output.Sequence}: {output.Fault}";
            }
        }

        if (fault is not null)
        {
            throw new NonFiniteValueException(fault, b.Session.Steps - 1, null, double.NaN);
        }
    });

    [UnmanagedCallersOnly]
    public static int BatchLogits(ulong batch, long sequence, float* logits, int capacity) => Run(() =>
    {
        var b = HandleTable.Get<NativeBatch>(batch, Batch);
        _ = b.Session.Length(new SequenceId(sequence));
        var last = b.Logits.TryGetValue(sequence, out var kept) ? kept
            : throw new InvalidOperationException($"sequence {sequence} has no logits yet: step it with qn_batch_step first.");
        if (capacity < last.Length)
        {
            throw new BufferTooSmallException($"The logits need {last.Length} floats; the buffer holds {capacity}.");
        }

        last.CopyTo(new Span<float>(Out(logits), capacity));
    });

    [UnmanagedCallersOnly]
    public static int SamplerCreate(float temperature, float topP, int topK, int seed, ulong* sampler) => Run(() =>
    {
        Out(sampler)[0] = 0;
        Out(sampler)[0] = HandleTable.Add(new TokenSampler(new SamplingOptions(temperature, topP, topK, seed)));
    });

    [UnmanagedCallersOnly]
    public static int SamplerFree(ulong sampler) => Run(() => HandleTable.Remove<TokenSampler>(sampler, Sampler));

    [UnmanagedCallersOnly]
    public static int Sample(ulong sampler, float* logits, int count, int* token) => Run(() =>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1, nameof(count));
        var chosen = SamplerOrGreedy(sampler).Next(new ReadOnlySpan<float>(In(logits, nameof(logits)), count));
        Out(token)[0] = chosen;
    });

    /// <summary>Prefill and decode in one call; <paramref name="onToken"/> (may be null) sees each token as it is chosen
    /// and stops generation by returning non-zero (status Cancelled, the tokens so far written).</summary>
    [UnmanagedCallersOnly]
    public static int Generate(ulong model, int* prompt, int promptCount, int maxNewTokens, ulong sampler,
        delegate* unmanaged<int, void*, int> onToken, void* user, int* tokens, int* count) => Run(() =>
    {
        Out(count)[0] = 0;
        var loaded = HandleTable.Get<Qwen3NextModel>(model, Model);
        ArgumentOutOfRangeException.ThrowIfLessThan(promptCount, 1, nameof(promptCount));
        var ids = new ReadOnlySpan<int>(In(prompt, nameof(prompt)), promptCount).ToArray();
        var output = Out(tokens);
        var chosen = SamplerOrGreedy(sampler);
        using var stop = new CancellationTokenSource();
        int written = 0;
        try
        {
            GenerateWith(loaded, ids, maxNewTokens, chosen, id =>
            {
                output[written++] = id;
                Out(count)[0] = written;
                if (onToken is not null && onToken(id, user) != 0)
                {
                    stop.Cancel();
                }
            }, stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            throw new OperationCanceledException($"Stopped by the token callback after {written} tokens.");
        }
    });

    /// <summary>The generation loop with the caller's sampler, whose random state carries over from call to call.</summary>
    private static void GenerateWith(Qwen3NextModel model, int[] prompt, int maxNewTokens, TokenSampler sampler, Action<int> onToken, CancellationToken cancel)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNewTokens, 1, nameof(maxNewTokens));
        ArgumentOutOfRangeException.ThrowIfGreaterThan((long)prompt.Length + maxNewTokens, int.MaxValue, "promptCount + maxNewTokens");
        using var session = model.CreateSession(prompt.Length + maxNewTokens);
        // Prefill in bounded chunks, like Generator.
        int last = (prompt.Length - 1) / Generator.DefaultPrefillChunk * Generator.DefaultPrefillChunk;
        for (int start = 0; start < last; start += Generator.DefaultPrefillChunk)
        {
            cancel.ThrowIfCancellationRequested();
            model.Forward(session, prompt.AsSpan(start, Generator.DefaultPrefillChunk));
        }

        int token = sampler.Next(model.Forward(session, prompt.AsSpan(last)));
        onToken(token);
        for (int n = 1; n < maxNewTokens; n++)
        {
            cancel.ThrowIfCancellationRequested();
            token = sampler.Next(model.Forward(session, [token]));
            onToken(token);
        }
    }

    private static TokenSampler SamplerOrGreedy(ulong sampler) => sampler == 0 ? new TokenSampler(SamplingOptions.Greedy) : HandleTable.Get<TokenSampler>(sampler, Sampler);

    private static int Run(Action call)
    {
        try
        {
            call();
            return (int)Status.Ok;
        }
        catch (Exception e)
        {
            LastError.Set(e.Message);
            return (int)StatusOf.Exception(e);
        }
    }

    private static string Text(byte* utf8, string name) =>
        utf8 is null ? throw new ArgumentNullException(name, $"{name} is NULL.") : Marshal.PtrToStringUTF8((nint)utf8)!;

    private static T* In<T>(T* pointer, string name)
        where T : unmanaged => pointer is null ? throw new ArgumentNullException(name, $"{name} is NULL.") : pointer;

    private static T* Out<T>(T* pointer, [CallerArgumentExpression(nameof(pointer))] string name = "")
        where T : unmanaged => pointer is null ? throw new ArgumentNullException(name, $"{name} is NULL.") : pointer;
}
