namespace Qwen3Next.Checkpoint;

/// <summary>
/// Base of every checkpoint error. The message always starts with the file and the tensor
/// at fault, when they are known, so one line is enough to locate the problem.
/// </summary>
public class CheckpointException : Exception
{
    public CheckpointException(string detail, string? file = null, string? tensor = null, Exception? inner = null)
        : base(Compose(detail, file, tensor), inner)
    {
        File = file;
        Tensor = tensor;
        Detail = detail;
    }

    public string? File { get; }

    public string? Tensor { get; }

    /// <summary>The message without the file and tensor prefix.</summary>
    public string Detail { get; }

    private static string Compose(string detail, string? file, string? tensor)
    {
        var where = (file, tensor) switch
        {
            (not null, not null) => $"{file}: tensor '{tensor}': ",
            (not null, null) => $"{file}: ",
            (null, not null) => $"tensor '{tensor}': ",
            _ => "",
        };
        return where + detail;
    }
}

/// <summary>A safetensors file or shard index that does not follow the format.</summary>
public sealed class SafeTensorsFormatException(string detail, string? file = null, string? tensor = null, Exception? inner = null)
    : CheckpointException(detail, file, tensor, inner);

public sealed class MissingTensorException(string detail, string? file = null, string? tensor = null)
    : CheckpointException(detail, file, tensor);

public sealed class UnexpectedTensorException(string detail, string? file = null, string? tensor = null)
    : CheckpointException(detail, file, tensor);

/// <summary>The same tensor name appears in more than one shard.</summary>
public sealed class DuplicateTensorException(string detail, string? file = null, string? tensor = null)
    : CheckpointException(detail, file, tensor);

/// <summary>A tensor's shape differs from the one the config implies.</summary>
public sealed class TensorShapeException : CheckpointException
{
    public TensorShapeException(string detail, string? file = null, string? tensor = null, IReadOnlyList<string>? configKeys = null)
        : base(detail, file, tensor)
    {
        ConfigKeys = configKeys ?? [];
    }

    /// <summary>The config keys that determine the mismatched dimensions.</summary>
    public IReadOnlyList<string> ConfigKeys { get; }
}

public sealed class TensorDTypeException(string detail, string? file = null, string? tensor = null)
    : CheckpointException(detail, file, tensor);

/// <summary>A config.json that cannot be parsed or whose values contradict each other or the weights.</summary>
public sealed class ConfigException : CheckpointException
{
    public ConfigException(string detail, string? file = null, string? key = null, string? tensor = null, Exception? inner = null)
        : base(key is null ? detail : $"config key '{key}': {detail}", file, tensor, inner)
    {
        Key = key;
    }

    public string? Key { get; }
}
