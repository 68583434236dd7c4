using System.Text.Json;

namespace Qwen3Next.Checkpoint;

/// <summary>
/// Reads a hub-format shard index: <c>{"metadata": {...}, "weight_map": {tensor: shard file}}</c>.
/// Shard names are resolved next to the index and must not escape its folder.
/// </summary>
internal static class ShardIndex
{
    private const long MaxIndexBytes = 64L * 1024 * 1024;

    /// <returns>Tensor name to full shard path.</returns>
    public static Dictionary<string, string> Read(string indexPath, bool requireShards = true)
    {
        var info = new FileInfo(indexPath);
        if (info.Length > MaxIndexBytes)
        {
            throw new SafeTensorsFormatException($"index is {info.Length} bytes, over the {MaxIndexBytes}-byte limit", indexPath);
        }

        JsonDocument document;
        try
        {
            using var stream = new FileStream(indexPath, FileMode.Open, FileAccess.Read, FileShare.Read);
            document = JsonDocument.Parse(stream);
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException($"index is not valid JSON: {e.Message}", indexPath, inner: e);
        }
        catch (IOException e)
        {
            throw new CheckpointException($"cannot read index: {e.Message}", indexPath, inner: e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("weight_map", out var weightMap)
                || weightMap.ValueKind != JsonValueKind.Object)
            {
                throw new SafeTensorsFormatException("index has no 'weight_map' object", indexPath);
            }

            string folder = Path.GetDirectoryName(indexPath)!;
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in weightMap.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                {
                    throw new SafeTensorsFormatException(
                        $"weight_map value must be a shard file name, found {entry.Value.ValueKind}", indexPath, entry.Name);
                }

                string shard = entry.Value.GetString()!;
                string shardPath = Path.GetFullPath(Path.Combine(folder, shard));
                if (Path.GetFileName(shardPath) != shard)
                {
                    throw new SafeTensorsFormatException(
                        $"shard '{shard}' must be a plain file name in the index folder", indexPath, entry.Name);
                }

                if (requireShards && !File.Exists(shardPath))
                {
                    throw new SafeTensorsFormatException($"names shard {shardPath}, which does not exist", indexPath, entry.Name);
                }

                if (!result.TryAdd(entry.Name, shardPath))
                {
                    throw new SafeTensorsFormatException("weight_map lists the tensor twice", indexPath, entry.Name);
                }
            }

            return result;
        }
    }

    public static void CheckAgainstShards(
        string indexPath, IReadOnlyDictionary<string, string> weightMap, IReadOnlyDictionary<string, TensorView> tensors)
    {
        foreach (var (name, shardPath) in weightMap)
        {
            if (!tensors.TryGetValue(name, out var view))
            {
                throw new MissingTensorException($"listed in {indexPath} but absent from the shard", shardPath, name);
            }

            if (view.File != shardPath)
            {
                throw new SafeTensorsFormatException($"index places the tensor in {shardPath} but it is in {view.File}", indexPath, name);
            }
        }

        foreach (var view in tensors.Values)
        {
            if (!weightMap.ContainsKey(view.Name))
            {
                throw new SafeTensorsFormatException($"tensor in shard {view.File} is not listed in the index", indexPath, view.Name);
            }
        }
    }
}
