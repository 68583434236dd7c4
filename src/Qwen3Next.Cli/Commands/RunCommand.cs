using System.CommandLine;
using System.Text.Json;
using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Conformance;
using Qwen3Next.Graph;
using Qwen3Next.Streaming;
using Qwen3Next.Tokenization;

namespace Qwen3Next.Cli.Commands;

/// <summary><c>kernels run</c>: the main job — load a checkpoint, prefill a prompt, generate.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo?>("--model", "-m") { Description = "Checkpoint folder (config.json + safetensors). Default: the embedded tiny Qwen3-Next." };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt as comma-separated token ids, e.g. 1,2,3." };
        var prompt = new Option<string?>("--prompt", "-p") { Description = "Prompt text (needs tokenizer.json in the model folder)." };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "Tokens to generate.", DefaultValueFactory = _ => 8 }.AtLeast(1);
        var temperature = new Option<float>("--temperature") { Description = "0 = greedy.", DefaultValueFactory = _ => 0f }.FiniteAtLeast(0);
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling mass, in (0, 1].", DefaultValueFactory = _ => 1f }
            .Require(v => v > 0 && v <= 1, "in (0, 1]");
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0 = all).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var seed = new Option<int>("--seed") { Description = "Sampling seed.", DefaultValueFactory = _ => 0 };
        var stopAtEos = new Option<bool>("--stop-at-eos") { Description = "Stop when the model emits its end-of-sequence token." };
        var prefillChunk = new Option<int>("--prefill-chunk") { Description = "Prefill at most this many tokens per forward pass (default 512; 0 = all at once).", DefaultValueFactory = _ => Generator.DefaultPrefillChunk }
            .AtLeast(0);
        var deviceMemory = new Option<string?>("--device-memory")
        {
            Description = "Device-memory budget (e.g. 130GiB): routed experts stream from pinned host memory through a device cache (ptx, ilgpu).",
        };
        var stats = new Option<FileInfo?>("--stats") { Description = "Write streaming, per-layer and per-decoded-token statistics as JSON to this file." };
        var warmExperts = new Option<FileInfo?>("--warm-experts")
        {
            Description = "Start the expert cache with the most used experts of an earlier run (a file written by --save-expert-counts; ptx).",
        };
        var saveCounts = new Option<FileInfo?>("--save-expert-counts") { Description = "Write how often each expert was selected in this run (JSON; ptx with --device-memory)." };
        var checkActivations = new Option<bool>("--check-activations")
        {
            Description = "Check every layer's output for NaN/Inf (one download per layer) so an error names the first layer; logits are always checked.",
        };
        var promptsFile = new Option<FileInfo?>("--prompts-file")
        {
            Description = "Run every prompt of this file (one per line: text or comma-separated ids) with continuous batching; prints each output and the aggregate tokens/s.",
        };
        var maxBatch = new Option<int?>("--max-batch")
        {
            Description = $"With --prompts-file: sequences run at once (default {RunBatch.DefaultMaxBatch}).",
        }.Require(v => v is null || v >= 1, "at least 1");
        var chat = new ChatOptions();
        var backend = CliOptions.Backend();
        var precision = CliOptions.Precision();
        var json = CliOptions.Json("prompt_ids, generated_ids and tokens_per_second (with --prompts-file: a list, one object per prompt in file order)");
        var command = new Command("run", "Generate from a prompt (or a file of prompts, batched) on the chosen backend.")
        {
            model, promptIds, prompt, maxNew, temperature, topP, topK, seed, stopAtEos, prefillChunk, deviceMemory, stats, warmExperts, saveCounts,
            checkActivations, promptsFile, maxBatch, backend, precision, json,
        };
        foreach (var option in chat.All)
        {
            command.Options.Add(option);
        }

        command.SetAction(parse => CommandGuard.Run(parse, () =>
        {
            string folder = parse.GetValue(model)?.FullName ?? CliOptions.DefaultModelFolder;
            var sampling = new SamplingOptions(parse.GetValue(temperature), parse.GetValue(topP), parse.GetValue(topK), parse.GetValue(seed));
            sampling.Validate();
            if (parse.GetValue(promptsFile) is { } promptsPath)
            {
                if (parse.GetValue(promptIds) is not null || parse.GetValue(prompt) is not null || chat.Conversation(parse) is not null)
                {
                    throw new ArgumentException("Give either --prompts-file or --prompt/--prompt-ids/--chat, not both.");
                }

                if (parse.GetValue(deviceMemory) is not null || parse.GetValue(stats) is not null || parse.GetValue(warmExperts) is not null
                    || parse.GetValue(saveCounts) is not null)
                {
                    throw new NotSupportedException("--device-memory, --stats, --warm-experts and --save-expert-counts are not available with --prompts-file yet.");
                }

                return RunBatch.Execute(new RunBatch.Settings(folder, promptsPath.FullName, parse.GetValue(maxBatch) ?? RunBatch.DefaultMaxBatch, parse.GetValue(maxNew),
                    sampling, parse.GetValue(prefillChunk) > 0 ? parse.GetValue(prefillChunk) : RunBatch.DefaultPrefillChunk, parse.GetValue(stopAtEos),
                    parse.GetValue(checkActivations), parse.GetValue(backend)!, CliOptions.PrecisionOf(parse.GetValue(precision)), parse.GetValue(json)));
            }

            if (parse.GetValue(maxBatch) is not null)
            {
                throw new ArgumentException("--max-batch needs --prompts-file.");
            }

            using var checkpoint = QwenCheckpoint.Open(folder);
            var tokenizer = chat.LoadTokenizer(parse, folder);
            var conversation = chat.Conversation(parse);
            if (conversation is not null && (parse.GetValue(promptIds) is not null || parse.GetValue(prompt) is not null))
            {
                throw new ArgumentException("Give --chat or a prompt (--prompt, --prompt-ids), not both.");
            }

            var ids = conversation is not null
                ? ChatPromptIds(tokenizer, conversation, chat.EnableThinking(parse), folder, checkpoint.Config)
                : PromptIds(parse.GetValue(promptIds), parse.GetValue(prompt), folder, checkpoint.Config, tokenizer);
            if ((parse.GetValue(warmExperts) is not null || parse.GetValue(saveCounts) is not null) && parse.GetValue(deviceMemory) is null)
            {
                throw new ArgumentException("--warm-experts and --save-expert-counts need --device-memory (they are about the expert cache).");
            }

            var warm = parse.GetValue(warmExperts) is { } warmFile ? ExpertRoutingCounts.Load(warmFile.FullName) : null;
            using var kernels = BackendRegistry.Create(parse.GetValue(backend)!, CliOptions.PrecisionOf(parse.GetValue(precision)));
            int capacity = ids.Length + parse.GetValue(maxNew);
            using var streaming = parse.GetValue(deviceMemory) is { } budget
                ? StreamingSetup.Enable(kernels, checkpoint.Config, ByteSize.Parse(budget), capacity,
                    parse.GetValue(prefillChunk) > 0 ? Math.Min(parse.GetValue(prefillChunk), ids.Length) : ids.Length, warm)
                : null;
            if (parse.GetValue(saveCounts) is not null && streaming is not PtxExpertStreaming)
            {
                throw new NotSupportedException(streaming is null
                    ? "--save-expert-counts: every expert fits the budget, so nothing streams and nothing is counted."
                    : $"--save-expert-counts needs --backend ptx (the {kernels.Name} backend does not count expert selections).");
            }

            using var loaded = LoadingProgress.Load(kernels, checkpoint);
            loaded.CheckActivations = parse.GetValue(checkActivations);
            streaming?.ResetStatistics();
            // A chat reply ends at the end-of-turn tokens (<|im_end|>, <|endoftext|>) whatever --stop-at-eos says.
            IReadOnlySet<int>? stops = conversation is not null ? checkpoint.Config.EosTokenIds.Concat(tokenizer!.Chat!.EndOfTurnTokens).ToHashSet()
                : parse.GetValue(stopAtEos) ? checkpoint.Config.EosTokenIds.ToHashSet() : null;
            var timer = parse.GetValue(stats) is not null || streaming is not null ? new LayerTimer(kernels, checkpoint.Config.NumHiddenLayers) : null;
            var meter = timer is not null ? new DecodeMeter(kernels, streaming, timer) : null;

            Console.WriteLine($"model    {folder}");
            Console.WriteLine($"backend  {kernels.Name} ({kernels.Precision.Name()} precision)");
            Console.WriteLine($"prompt   [{string.Join(',', ids)}]");
            var printer = new TokenPrinter(tokenizer, skipSpecialTokens: conversation is not null);
            GenerationResult result;
            try
            {
                result = Generator.Generate(loaded, ids, parse.GetValue(maxNew), sampling, stops, parse.GetValue(prefillChunk), token =>
                {
                    printer.Add(token);
                    meter?.OnToken();
                }, timer);
            }
            catch
            {
                printer.Abandon();
                throw;
            }

            printer.Finish();
            Console.WriteLine($"prefill  {result.PromptIds.Length} tokens in {result.PrefillSeconds * 1000:F1} ms ({result.PrefillTokensPerSecond:F1} tokens/s)");
            Console.WriteLine($"decode   {result.GeneratedIds.Length - 1} tokens in {result.DecodeSeconds * 1000:F1} ms ({result.TokensPerSecond:F1} tokens/s)");
            if (timer is not null)
            {
                var report = RunStatistics.From(result, streaming, timer, meter?.Finish());
                RunStatistics.Print(report);
                if (parse.GetValue(stats) is { } statsFile)
                {
                    File.WriteAllText(statsFile.FullName, JsonSerializer.Serialize(report, JsonOutput.Options));
                }
            }

            if (parse.GetValue(saveCounts) is { } countsFile)
            {
                var counts = ((PtxExpertStreaming)streaming!).RoutingCounts();
                counts.Save(countsFile.FullName);
                Console.WriteLine($"counts   {counts.Summary} written to {countsFile.FullName}");
            }

            if (parse.GetValue(json) is { } file)
            {
                File.WriteAllText(file.FullName, JsonSerializer.Serialize(
                    new { prompt_ids = result.PromptIds, generated_ids = result.GeneratedIds, tokens_per_second = result.TokensPerSecond, backend = kernels.Name },
                    JsonOutput.Options));
            }

            return 0;
        }));
        return command;
    }

    /// <summary>The chat prompt's ids: <c>--chat</c> and <c>--system</c> formatted with the checkpoint's chat template.</summary>
    private static int[] ChatPromptIds(QwenTokenizer? tokenizer, IReadOnlyList<ChatMessage> conversation, bool? thinking, string folder, ModelConfig config)
    {
        string prompt = ChatOptions.Format(tokenizer, conversation, thinking, folder);
        return WithinVocabulary(tokenizer!.Encode(prompt), config, tokenizer);
    }

    /// <summary>A tokenizer made for another checkpoint gives ids the model has no embedding for: say so before loading.</summary>
    private static int[] WithinVocabulary(int[] ids, ModelConfig config, QwenTokenizer tokenizer)
    {
        int beyond = Array.FindIndex(ids, id => id >= config.VocabSize);
        return beyond < 0 ? ids : throw new ArgumentException(
            $"the prompt's token {beyond} has id {ids[beyond]}, outside the model's vocabulary of {config.VocabSize} ids: {tokenizer.Path} "
            + $"({tokenizer.VocabularySize} ids) does not belong to this checkpoint.");
    }

    /// <summary>Explicit ids, text through the folder's tokenizer, or (no prompt given) the golden prompt shipped with
    /// the default model so <c>./build.sh run</c> reproduces a known result, else the BOS token.</summary>
    private static int[] PromptIds(string? ids, string? text, string folder, ModelConfig config, QwenTokenizer? tokenizer)
    {
        if (ids is not null && text is not null)
        {
            throw new ArgumentException("Give either --prompt-ids or --prompt, not both.");
        }

        if (ids is not null)
        {
            var parsed = ids.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(s => int.TryParse(s, out int v) ? v : throw new ArgumentException($"--prompt-ids: '{s}' is not a token id."))
                .ToArray();
            foreach (int id in parsed)
            {
                if (id < 0 || id >= config.VocabSize)
                {
                    throw new ArgumentException($"--prompt-ids: token {id} is outside the vocabulary [0, {config.VocabSize}).");
                }
            }

            return parsed.Length > 0 ? parsed : throw new ArgumentException("--prompt-ids is empty.");
        }

        if (text is not null)
        {
            var encoded = (tokenizer ?? throw new NotSupportedException($"{folder} has no tokenizer.json; give --prompt-ids or --tokenizer FILE instead.")).Encode(text);
            return encoded.Length > 0 ? WithinVocabulary(encoded, config, tokenizer) : throw new ArgumentException("--prompt encodes to no tokens.");
        }

        string golden = Path.Combine(folder, ConformanceRunner.ModelGoldenFile);
        if (File.Exists(golden))
        {
            using var file = GoldenFile.Open(golden);
            return file.I64("input_ids").Select(v => (int)v).ToArray();
        }

        return [config.BosTokenId ?? 0];
    }
}
