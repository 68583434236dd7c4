using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Conformance.Cases;

namespace Qwen3Next.Conformance;

/// <summary>Runs golden cases (files, or folders of them; a folder with <c>golden.safetensors</c> and
/// <c>config.json</c> is a model case) on a backend and returns one result per compared output.</summary>
public static class ConformanceRunner
{
    public const string ModelGoldenFile = "golden.safetensors";

    /// <summary>Expands paths into golden case paths: files as given, model folders as one case, other folders recursively.</summary>
    public static IReadOnlyList<string> Discover(IEnumerable<string> paths)
    {
        var cases = new List<string>();
        foreach (var path in paths)
        {
            if (File.Exists(path))
            {
                cases.Add(Path.GetFullPath(path));
            }
            else if (Directory.Exists(path))
            {
                AddFolder(path, cases);
            }
            else
            {
                throw new FileNotFoundException($"{path}: no such file or folder.", path);
            }
        }

        return cases;
    }

    public static bool IsModelFolder(string path)
        => Directory.Exists(path) && File.Exists(Path.Combine(path, ModelGoldenFile)) && File.Exists(Path.Combine(path, "config.json"));

    /// <summary>Runs one case; a model folder or its golden.safetensors runs the whole model.</summary>
    public static IReadOnlyList<CheckResult> Run(string path, IKernelBackend backend)
    {
        string goldenPath = IsModelFolder(path) ? Path.Combine(path, ModelGoldenFile) : path;
        using var golden = GoldenFile.Open(goldenPath);
        IEnumerable<CheckResult> checks = golden.Op switch
        {
            "gated_delta_rule" => GatedDeltaRuleCase.Run(golden, backend),
            "gated_deltanet_layer" => GatedDeltaNetLayerCase.Run(golden, backend),
            "moe_block" => MoeBlockCase.Run(golden, backend),
            "gated_attention_layer" => GatedAttentionCase.Run(golden, backend),
            "full_model_greedy" => FullModelCase.Run(Path.GetDirectoryName(goldenPath)!, golden, backend),
            _ => throw new CheckpointException($"unknown golden op '{golden.Op}'.", goldenPath),
        };
        return checks.ToList();
    }

    private static void AddFolder(string folder, List<string> cases)
    {
        if (IsModelFolder(folder))
        {
            cases.Add(Path.GetFullPath(folder));
            return;
        }

        foreach (var file in Directory.GetFiles(folder, "*.safetensors").Order(StringComparer.Ordinal))
        {
            cases.Add(Path.GetFullPath(file));
        }

        foreach (var sub in Directory.GetDirectories(folder).Order(StringComparer.Ordinal))
        {
            AddFolder(sub, cases);
        }
    }
}
