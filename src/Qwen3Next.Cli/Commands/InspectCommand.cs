using System.CommandLine;
using Qwen3Next.Checkpoint;
using Spectre.Console;

namespace Qwen3Next.Cli.Commands;

/// <summary><c>kernels inspect DIR_OR_FILE</c>: config summary, tensor count and bytes by dtype.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "A checkpoint folder or one .safetensors file." };
        var command = new Command("inspect", "Summarise a checkpoint or safetensors file.") { path };
        command.SetAction(parse => CommandGuard.Run(parse, () =>
        {
            string target = parse.GetValue(path)!;
            if (File.Exists(target))
            {
                using var file = SafeTensorsFile.Open(target);
                Print(target, file.Tensors.Values, file.Metadata);
                return 0;
            }

            if (!File.Exists(Path.Combine(target, QwenCheckpoint.ConfigFileName)))
            {
                using var reader = CheckpointReader.Open(target);
                Print(target, reader.Tensors.Values, new Dictionary<string, string>());
                return 0;
            }

            using var checkpoint = QwenCheckpoint.Open(target);
            var c = checkpoint.Config;
            var layers = string.Concat(c.LayerTypes.Select(k => k == LayerKind.FullAttention ? 'F' : 'L'));
            var table = new Table().AddColumns("config", "value");
            table.AddRow(new Text("model"), new Text($"{c.ModelType}, {c.NumHiddenLayers} layers [{layers}]"));
            table.AddRow(new Text("hidden / vocab"), new Text($"{c.HiddenSize} / {c.VocabSize}"));
            table.AddRow(new Text("gated attention"), new Text($"{c.NumAttentionHeads} q heads, {c.NumKeyValueHeads} kv heads, head_dim {c.HeadDim}, rotary {c.RotaryDim}, theta {c.RopeTheta:G}"));
            table.AddRow(new Text("gated deltanet"), new Text($"{c.LinearNumKeyHeads} k heads x {c.LinearKeyHeadDim}, {c.LinearNumValueHeads} v heads x {c.LinearValueHeadDim}, conv {c.LinearConvKernelDim}"));
            table.AddRow(new Text("moe"), new Text($"{c.NumExperts} experts, top-{c.NumExpertsPerTok}, intermediate {c.MoeIntermediateSize}, shared {c.SharedExpertIntermediateSize}"));
            table.AddRow(new Text("dtype"), new Text(c.TorchDtype));
            AnsiConsole.Write(table);
            Print(target, checkpoint.Reader.Tensors.Values, new Dictionary<string, string>());
            return 0;
        }));
        return command;
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
}
