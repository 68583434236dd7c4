using System.Text.Json.Nodes;
using NUnit.Framework;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Tests.Checkpoint;

/// <summary>Locations of the golden test data and copies of the tiny model with edits.</summary>
internal static class GoldenData
{
    public static string Root => Path.Combine(TestContext.CurrentContext.TestDirectory, "data", "golden");

    public static string TinyModel => Path.Combine(Root, "models", "tiny-qwen3-next");

    public static IEnumerable<string> SafeTensorsFiles() =>
        Directory.EnumerateFiles(Path.Combine(TestContext.CurrentContext.TestDirectory, "data", "golden"), "*.safetensors", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal);

    public static List<WrittenTensor> TinyModelTensors()
    {
        using var reader = CheckpointReader.Open(TinyModel);
        return reader.Tensors.Values.OrderBy(v => v.Name, StringComparer.Ordinal).Select(WrittenTensor.From).ToList();
    }

    /// <summary>Every tensor and the metadata of one safetensors file, ready to be edited and written again.</summary>
    public static List<WrittenTensor> ReadAll(string path, out Dictionary<string, string> metadata)
    {
        using var file = SafeTensorsFile.Open(path);
        metadata = new Dictionary<string, string>(file.Metadata);
        return file.Tensors.Values.OrderBy(v => v.Name, StringComparer.Ordinal).Select(WrittenTensor.From).ToList();
    }

    /// <summary>Writes the tiny model as one model.safetensors plus config.json into <paramref name="folder"/>.</summary>
    public static void WriteTinyModelCopy(
        string folder, Action<List<WrittenTensor>>? editTensors = null, Action<JsonObject>? editConfig = null)
    {
        var tensors = TinyModelTensors();
        editTensors?.Invoke(tensors);
        SafeTensorsWriter.Write(Path.Combine(folder, CheckpointReader.SingleFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(TinyModel, QwenCheckpoint.ConfigFileName)))!.AsObject();
        editConfig?.Invoke(config);
        File.WriteAllText(Path.Combine(folder, QwenCheckpoint.ConfigFileName), config.ToJsonString());
    }
}
