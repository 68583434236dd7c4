using System.CommandLine;
using Qwen3Next.Checkpoint;
using Spectre.Console;

namespace Qwen3Next.Cli.Commands;

/// <summary><c>kernels inspect DIR_OR_FILE [--check]</c>: config summary, tensor count and bytes by dtype; a folder with
/// only config.json (and maybe its shard index) is summarised from the config, as <c>plan</c> does; <c>--check</c>
/// scans every floating-point tensor for NaN/Inf and exits 1 naming each tensor that has any.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "A checkpoint folder, a folder with only config.json, or one .safetensors file." };
        var check = new Option<bool>("--check") { Description = "Scan every floating-point tensor for NaN and Inf; exit 1 when any has one." };
        var command = new Command("inspect", "Summarise a checkpoint or safetensors file.") { path, check };
        command.SetAction(parse => CommandGuard.Run(parse, () =>
        {
            string target = parse.GetValue(path)!;
            bool scan = parse.GetValue(check);
            if (File.Exists(target))
            {
                using var file = SafeTensorsFile.Open(target);
                Print(target, file.Tensors.Values, file.Metadata);
                return scan ? Check(file.Tensors.Values) : 0;
            }

            string config = Path.Combine(target, QwenCheckpoint.ConfigFileName);
            if (!File.Exists(config))
            {
                using var reader = CheckpointReader.Open(target);
                Print(target, reader.Tensors.Values, new Dictionary<string, string>());
                return scan ? Check(reader.Tensors.Values) : 0;
            }

            if (!HasWeights(target))
            {
                var c = ModelConfig.Load(config);
                PrintConfig(c);
                var expected = WeightNames.Expected(c);
                Console.WriteLine($"{target}: config only, no weights; the config implies {expected.Count:N0} tensors, "
                    + $"{expected.Sum(s => s.ElementCount):N0} values ({expected.Sum(s => s.ElementCount) * 2:N0} bytes as bf16); {IndexNames.Check(target, c)}");
                return scan ? throw new ArgumentException($"--check: {target} holds no weights to check.") : 0;
            }

            using var checkpoint = QwenCheckpoint.Open(target);
            PrintConfig(checkpoint.Config);
            Print(target, checkpoint.Reader.Tensors.Values, new Dictionary<string, string>());
            return scan ? Check(checkpoint.Reader.Tensors.Values) : 0;
        }));
        return command;
    }

    /// <summary>A model folder has weights when it has model.safetensors, or an index at least one of whose shards exists.</summary>
    private static bool HasWeights(string folder)
    {
        if (File.Exists(Path.Combine(folder, CheckpointReader.SingleFileName)))
        {
            return true;
        }

        string index = Path.Combine(folder, CheckpointReader.IndexFileName);
        return File.Exists(index) && CheckpointReader.ReadIndexShards(index).Any(File.Exists);
    }

    private static void PrintConfig(ModelConfig c)
    {
        var layers = string.Concat(c.LayerTypes.Select(k => k == LayerKind.FullAttention ? 'F' : 'L'));
        var table = new Table().AddColumns("config", "value");
        table.AddRow(new Text("model"), new Text($"{c.ModelType}, {c.NumHiddenLayers} layers [{layers}]"));
        table.AddRow(new Text("hidden / vocab"), new Text($"{c.HiddenSize} / {c.VocabSize}"));
        table.AddRow(new Text("gated attention"), new Text($"{c.NumAttentionHeads} q heads, {c.NumKeyValueHeads} kv heads, head_dim {c.HeadDim}, rotary {c.RotaryDim}, theta {c.RopeTheta:G}"));
        table.AddRow(new Text("gated deltanet"), new Text($"{c.LinearNumKeyHeads} k heads x {c.LinearKeyHeadDim}, {c.LinearNumValueHeads} v heads x {c.LinearValueHeadDim}, conv {c.LinearConvKernelDim}"));
        table.AddRow(new Text("moe"), new Text($"{c.NumExperts} experts, top-{c.NumExpertsPerTok}, intermediate {c.MoeIntermediateSize}, shared {c.SharedExpertIntermediateSize}"));
        table.AddRow(new Text("dtype"), new Text(c.TorchDtype));
        Tables.Write(table);
    }

    private static void Print(string source, IEnumerable<TensorView> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var list = tensors.ToList();
        long parameters = list.Sum(t => t.ElementCount);
        Console.WriteLine($"{source}: {list.Count} tensors, {parameters:N0} values, {list.Sum(t => t.ByteLength):N0} bytes");
        foreach (var group in list.GroupBy(t => t.DType).OrderBy(g => g.Key))
        {
            Console.WriteLine($"  {group.Key,-5} {group.Count(),6} tensors {group.Sum(t => t.ByteLength),18:N0} bytes");
        }

        if (metadata.TryGetValue("op", out var op))
        {
            Console.WriteLine($"  golden op: {op}");
        }
    }

    /// <summary>Exit 0 when every floating-point tensor is finite, 1 (a failed check) naming each one that is not.</summary>
    private static int Check(IEnumerable<TensorView> tensors)
    {
        var list = tensors.ToList();
        var bad = NonFiniteWeights.Scan(list);
        int floating = list.Count(t => DTypeInfo.IsFloatingPoint(t.DType));
        foreach (var tensor in bad)
        {
            Console.WriteLine($"NON-FINITE  {tensor}");
        }

        Console.WriteLine(bad.Count == 0
            ? $"check: all {floating} floating-point tensors are finite"
            : $"check FAILED: {bad.Count} of {floating} floating-point tensors hold NaN or Inf");
        return bad.Count == 0 ? 0 : 1;
    }
}
