using Qwen3Next.Checkpoint;

namespace Qwen3Next.Cli;

/// <summary>Checks the shard index beside a config (for <c>plan</c> and <c>inspect</c> on a folder without weights).</summary>
internal static class IndexNames
{
    /// <summary>With a shard index beside the config, every expected tensor must be listed (mtp.* ignored).</summary>
    public static string Check(string folder, ModelConfig config)
    {
        string index = Path.Combine(folder, CheckpointReader.IndexFileName);
        if (!File.Exists(index))
        {
            return "no shard index: tensor names not checked";
        }

        var names = CheckpointReader.ReadIndexNames(index);
        var expected = WeightNames.Expected(config).Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var missing = expected.Where(n => !names.Contains(n)).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
        {
            throw new MissingTensorException($"the index lists no '{missing[0]}' ({missing.Count} expected tensors missing)", index, missing[0]);
        }

        var unexpected = names.Where(n => !expected.Contains(n) && !WeightNames.IsSkipped(n)).Order(StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
        {
            throw new UnexpectedTensorException($"the index lists '{unexpected[0]}', which this model does not use ({unexpected.Count} unexpected)", index, unexpected[0]);
        }

        return $"shard index lists all {expected.Count:N0} tensors";
    }
}
