namespace Qwen3Next.Checkpoint;

/// <summary>
/// A Qwen3-Next model folder (config.json + weights), checked against each other at open:
/// every tensor the config implies is present with its shape, nothing else is (mtp.* is
/// ignored), matrices are BF16 and the small vectors (A_log, dt_bias, norms) BF16/F16/F32.
/// </summary>
public sealed class QwenCheckpoint : IDisposable
{
    public const string ConfigFileName = "config.json";

    private QwenCheckpoint(ModelConfig config, CheckpointReader reader, IReadOnlyList<WeightSpec> weights)
    {
        Config = config;
        Reader = reader;
        Weights = weights;
        var bytesByDType = new Dictionary<DType, long>();
        foreach (var spec in weights)
        {
            var view = reader[spec.Name];
            bytesByDType[view.DType] = bytesByDType.GetValueOrDefault(view.DType) + view.ByteLength;
        }

        BytesByDType = bytesByDType;
        TotalBytes = bytesByDType.Values.Sum();
    }

    public ModelConfig Config { get; }

    public CheckpointReader Reader { get; }

    /// <summary>The tensors the model uses, in checkpoint order.</summary>
    public IReadOnlyList<WeightSpec> Weights { get; }

    /// <summary>Bytes of the tensors the model uses (mtp.* excluded).</summary>
    public long TotalBytes { get; }

    public IReadOnlyDictionary<DType, long> BytesByDType { get; }

    public TensorView this[string name] => Reader[name];

    public static QwenCheckpoint Open(string folder)
    {
        string root = Path.GetFullPath(folder);
        var config = ModelConfig.Load(Path.Combine(root, ConfigFileName));
        var reader = CheckpointReader.Open(root);
        try
        {
            var weights = WeightNames.Expected(config);
            Check(config, reader, weights);
            return new QwenCheckpoint(config, reader, weights);
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    public void Dispose() => Reader.Dispose();

    private static void Check(ModelConfig config, CheckpointReader reader, IReadOnlyList<WeightSpec> weights)
    {
        string where = reader.IndexPath ?? reader.Files.FirstOrDefault() ?? reader.Root;
        var expectedNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var spec in weights)
        {
            expectedNames.Add(spec.Name);
            if (!reader.TryGet(spec.Name, out var view))
            {
                throw new MissingTensorException(
                    $"the config ({config.SourceName}) implies this tensor with shape [{string.Join(", ", spec.Shape)}]", where, spec.Name);
            }

            CheckShape(config, spec, view!);
            CheckDType(spec, view!);
        }

        foreach (var view in reader.Tensors.Values)
        {
            if (!expectedNames.Contains(view.Name) && !WeightNames.IsSkipped(view.Name))
            {
                throw new UnexpectedTensorException(
                    $"not part of the model described by {config.SourceName} ({config.NumHiddenLayers} layers, {config.NumExperts} experts)",
                    view.File, view.Name);
            }
        }
    }

    private static void CheckShape(ModelConfig config, WeightSpec spec, TensorView view)
    {
        long[] actual = view.Shape;
        if (actual.AsSpan().SequenceEqual(spec.Shape))
        {
            return;
        }

        var keys = new List<string>();
        var reasons = new List<string>();
        if (actual.Length != spec.Shape.Length)
        {
            reasons.Add($"rank {actual.Length}, expected {spec.Shape.Length}");
        }
        else
        {
            for (int d = 0; d < actual.Length; d++)
            {
                if (actual[d] != spec.Shape[d])
                {
                    keys.Add(spec.DimSources[d]);
                    reasons.Add($"dim {d} is {actual[d]} but {spec.DimSources[d]} = {spec.Shape[d]}");
                }
            }
        }

        throw new TensorShapeException(
            $"shape [{string.Join(", ", actual)}] contradicts {config.SourceName}, which implies [{string.Join(", ", spec.Shape)}]: {string.Join("; ", reasons)}",
            view.File, view.Name, keys);
    }

    private static void CheckDType(WeightSpec spec, TensorView view)
    {
        bool allowed = spec.IsSmallVector ? DTypeInfo.IsFloatingPoint(view.DType) : view.DType == DType.BF16;
        if (!allowed)
        {
            string rule = spec.IsSmallVector ? "small vectors must be BF16, F16 or F32" : "weight matrices must be BF16";
            throw new TensorDTypeException($"dtype {view.DType} is not supported: {rule}", view.File, view.Name);
        }
    }
}
