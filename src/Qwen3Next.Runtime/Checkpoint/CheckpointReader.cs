namespace Qwen3Next.Checkpoint;

/// <summary>
/// All tensors of a checkpoint: a folder holding <c>model.safetensors.index.json</c> plus its
/// shards, or a folder holding one <c>model.safetensors</c>, or a single .safetensors file.
/// Tensor names are unique across shards; the index must agree with the shards exactly.
/// </summary>
public sealed class CheckpointReader : IDisposable
{
    public const string IndexFileName = "model.safetensors.index.json";
    public const string SingleFileName = "model.safetensors";

    private readonly List<SafeTensorsFile> files;
    private readonly Dictionary<string, TensorView> tensors;

    private CheckpointReader(string root, string? indexPath, List<SafeTensorsFile> files, Dictionary<string, TensorView> tensors)
    {
        Root = root;
        IndexPath = indexPath;
        this.files = files;
        this.tensors = tensors;
        Files = files.Select(f => f.Path).ToArray();
    }

    /// <summary>The folder the checkpoint lives in.</summary>
    public string Root { get; }

    /// <summary>The shard index, when the checkpoint is sharded.</summary>
    public string? IndexPath { get; }

    public IReadOnlyDictionary<string, TensorView> Tensors => tensors;

    /// <summary>Full paths of the opened safetensors files, in index order.</summary>
    public IReadOnlyList<string> Files { get; }

    public TensorView this[string name] =>
        tensors.TryGetValue(name, out var view)
            ? view
            : throw new MissingTensorException("not present in the checkpoint", IndexPath ?? Root, name);

    /// <summary>The tensor names a shard index lists, without opening any shard (planning from the index alone).</summary>
    public static IReadOnlySet<string> ReadIndexNames(string indexPath) => ShardIndex.Read(indexPath, requireShards: false).Keys.ToHashSet(StringComparer.Ordinal);

    /// <summary>The shard files an index names (full paths), whether or not they exist.</summary>
    public static IReadOnlyList<string> ReadIndexShards(string indexPath) => ShardIndex.Read(indexPath, requireShards: false).Values.Distinct(StringComparer.Ordinal).ToList();

    public static CheckpointReader Open(string pathToFolderOrFile)
    {
        string fullPath = Path.GetFullPath(pathToFolderOrFile);
        if (File.Exists(fullPath))
        {
            return FromFiles(Path.GetDirectoryName(fullPath)!, null, [fullPath], null);
        }

        if (!Directory.Exists(fullPath))
        {
            throw new CheckpointException("no such file or folder", fullPath);
        }

        string indexPath = Path.Combine(fullPath, IndexFileName);
        if (File.Exists(indexPath))
        {
            var weightMap = ShardIndex.Read(indexPath);
            var shardPaths = weightMap.Values.Distinct(StringComparer.Ordinal).ToList();
            return FromFiles(fullPath, indexPath, shardPaths, weightMap);
        }

        string singlePath = Path.Combine(fullPath, SingleFileName);
        if (File.Exists(singlePath))
        {
            return FromFiles(fullPath, null, [singlePath], null);
        }

        throw new CheckpointException($"folder has neither {IndexFileName} nor {SingleFileName}", fullPath);
    }

    public bool TryGet(string name, out TensorView? view)
    {
        if (tensors.TryGetValue(name, out var found))
        {
            view = found;
            return true;
        }

        view = null;
        return false;
    }

    public void Dispose()
    {
        foreach (var file in files)
        {
            file.Dispose();
        }
    }

    private static CheckpointReader FromFiles(
        string root, string? indexPath, List<string> paths, IReadOnlyDictionary<string, string>? weightMap)
    {
        var opened = new List<SafeTensorsFile>(paths.Count);
        try
        {
            var tensors = new Dictionary<string, TensorView>(StringComparer.Ordinal);
            foreach (string path in paths)
            {
                var file = SafeTensorsFile.Open(path);
                opened.Add(file);
                foreach (var (name, view) in file.Tensors)
                {
                    if (tensors.TryGetValue(name, out var earlier))
                    {
                        throw new DuplicateTensorException($"also stored in {earlier.File}", file.Path, name);
                    }

                    tensors.Add(name, view);
                }
            }

            if (weightMap is not null)
            {
                ShardIndex.CheckAgainstShards(indexPath!, weightMap, tensors);
            }

            return new CheckpointReader(root, indexPath, opened, tensors);
        }
        catch
        {
            foreach (var file in opened)
            {
                file.Dispose();
            }

            throw;
        }
    }
}
