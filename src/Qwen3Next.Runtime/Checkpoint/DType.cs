namespace Qwen3Next.Checkpoint;

/// <summary>Element types this runtime reads from safetensors files.</summary>
public enum DType
{
    BF16,
    F16,
    F32,
    I64,
    I32,
}

public static class DTypeInfo
{
    public static int SizeOf(DType dtype) => dtype switch
    {
        DType.BF16 or DType.F16 => 2,
        DType.F32 or DType.I32 => 4,
        DType.I64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>Maps a safetensors dtype string ("BF16", "F32", ...) to <see cref="DType"/>.</summary>
    /// <exception cref="TensorDTypeException">The name is not one of the supported dtypes.</exception>
    public static DType Parse(string safetensorsName, string file, string tensor) => safetensorsName switch
    {
        "BF16" => DType.BF16,
        "F16" => DType.F16,
        "F32" => DType.F32,
        "I64" => DType.I64,
        "I32" => DType.I32,
        _ => throw new TensorDTypeException(
            $"unsupported dtype '{safetensorsName}' (supported: BF16, F16, F32, I64, I32)", file, tensor),
    };

    public static string SafeTensorsName(DType dtype) => dtype.ToString();

    public static bool IsFloatingPoint(DType dtype) => dtype is DType.BF16 or DType.F16 or DType.F32;
}
