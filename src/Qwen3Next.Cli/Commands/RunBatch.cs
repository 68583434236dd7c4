using System.Text.Json;
using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;
using Qwen3Next.Tokenization;

namespace Qwen3Next.Cli.Commands;

/// <summary>
/// <c>kernels run --prompts-file FILE --max-batch N</c>: every prompt of the file through one batch with continuous
/// batching (<see cref="ContinuousBatchScheduler"/>: up to N sequences at once, prompts in chunks beside decodes, a
/// finished sequence's slot and pages going to the next prompt), then each sequence's output in file order and the
/// aggregate rate. <c>--json</c> writes a list with one object per prompt, in file order.
/// </summary>
internal static class RunBatch
{
    /// <summary>Sequences at once when <c>--max-batch</c> is not given.</summary>
    public const int DefaultMaxBatch = 8;

    /// <summary>Prompt tokens per sequence per step when <c>--prefill-chunk</c> is not given.</summary>
    public const int DefaultPrefillChunk = 256;

    public sealed record Settings(string Folder, string PromptsPath, int MaxBatch, int MaxNewTokens, SamplingOptions Sampling, int PrefillChunk,
        bool StopAtEos, bool CheckActivations, string Backend, Precision? Precision, FileInfo? Json);

    public static int Execute(Settings s)
    {
        using var checkpoint = QwenCheckpoint.Open(s.Folder);
        var tokenizer = QwenTokenizer.TryLoadFromModel(s.Folder);
        var prompts = PromptsFile.Read(s.PromptsPath, checkpoint.Config, tokenizer);
        var stops = s.StopAtEos ? checkpoint.Config.EosTokenIds.ToHashSet() : null;
        var requests = prompts.Select((p, i) => new GenerationRequest(p, s.MaxNewTokens, s.Sampling with { Seed = s.Sampling.Seed + i }, stops)).ToArray();
        using var kernels = BackendRegistry.Create(s.Backend, s.Precision);
        using var model = LoadingProgress.Load(kernels, checkpoint);
        model.CheckActivations = s.CheckActivations;

        Console.WriteLine($"model    {s.Folder}");
        Console.WriteLine($"backend  {kernels.Name} ({kernels.Precision.Name()} precision)");
        Console.WriteLine($"prompts  {prompts.Count} from {s.PromptsPath}, at most {s.MaxBatch} at once");
        var result = ContinuousBatchScheduler.Generate(model, requests, s.MaxBatch, prefillChunk: s.PrefillChunk);
        for (int i = 0; i < result.Results.Count; i++)
        {
            var r = result.Results[i];
            string text = tokenizer is null ? string.Empty : $" {JsonSerializer.Serialize(tokenizer.Decode(r.GeneratedIds))}";
            Console.WriteLine($"[{i}] {r.PromptIds.Length} prompt tokens → [{string.Join(',', r.GeneratedIds)}]{text}");
        }

        Console.WriteLine($"batch    {result.GeneratedTokens} tokens generated for {prompts.Count} prompts in {result.Seconds * 1000:F1} ms, "
            + $"{result.Steps} steps, up to {result.MaxConcurrent} sequences at once ({result.TokensPerSecond:F1} tokens/s)");
        if (s.Json is { } file)
        {
            var list = result.Results.Select(r => new
            {
                prompt_ids = r.PromptIds,
                generated_ids = r.GeneratedIds,
                prefill_seconds = r.PrefillSeconds,
                decode_seconds = r.DecodeSeconds,
            });
            File.WriteAllText(file.FullName, JsonSerializer.Serialize(list, JsonOutput.Options));
        }

        return 0;
    }
}
