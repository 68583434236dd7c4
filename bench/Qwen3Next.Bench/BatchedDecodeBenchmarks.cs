using BenchmarkDotNet.Attributes;
using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;

namespace Qwen3Next.Bench;

/// <summary>
/// Batched decode: one <see cref="BatchSession.Step"/> of B sequences, one token each (the whole model: embedding, every
/// layer over the state slots and paged KV cache, logits of every sequence). Tokens/s = B / the time of one step. The
/// sequences decode at contexts 1..<see cref="Window"/> and are then finished and replaced, so every iteration sees the
/// same mix of context lengths. The model is the tiny checkpoint (QWEN3NEXT_BENCH_MODEL names another folder); the
/// backends come from QWEN3NEXT_BENCH_BACKENDS like <see cref="OpBenchmarks"/>.
/// </summary>
[MemoryDiagnoser(false)]
public class BatchedDecodeBenchmarks
{
    /// <summary>Positions a sequence decodes before it is replaced by a fresh one.</summary>
    public const int Window = 64;

    private IKernelBackend? backend;
    private QwenCheckpoint? checkpoint;
    private Qwen3NextModel? model;
    private BatchSession? batch;
    private SequenceStep[] steps = [];

    public static IEnumerable<string> BackendNames => OpBenchmarks.BackendNames;

    [ParamsSource(nameof(BackendNames), Priority = -1)]
    public string Backend { get; set; } = "reference";

    [Params(1, 4, 16, 64)]
    public int Sequences { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        string folder = Environment.GetEnvironmentVariable("QWEN3NEXT_BENCH_MODEL") ?? Path.Combine(AppContext.BaseDirectory, "models", "tiny-qwen3-next");
        checkpoint = QwenCheckpoint.Open(folder);
        backend = BackendRegistry.Create(Backend);
        model = Qwen3NextModel.Load(backend, checkpoint);
        batch = model.CreateBatch(new BatchOptions(Sequences, Window, PageSize: 16));
        Restart();
        Console.WriteLine($"// {Sequences} sequences: {model.BatchBytes(batch.Options):N0} bytes of state slots and KV pages");
    }

    /// <summary>One decode step of every sequence: <see cref="Sequences"/> tokens.</summary>
    [Benchmark]
    public int Step()
    {
        if (batch!.Length(steps[0].Sequence) == Window)
        {
            Restart();
        }

        var outputs = batch.Step(steps);
        for (int b = 0; b < steps.Length; b++)
        {
            steps[b] = steps[b] with { Tokens = new[] { outputs[b].Greedy } };
        }

        return steps[0].Tokens.Span[0];
    }

    /// <summary>Finishes every sequence and adds fresh ones, each starting from its own token.</summary>
    private void Restart()
    {
        foreach (var step in steps)
        {
            batch!.Finish(step.Sequence);
        }

        steps = [.. Enumerable.Range(0, Sequences).Select(b => new SequenceStep(batch!.Add(), new[] { ((b * 37) + 11) % model!.Config.VocabSize }))];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        batch?.Dispose();
        model?.Dispose();
        backend?.Dispose();
        checkpoint?.Dispose();
    }
}
