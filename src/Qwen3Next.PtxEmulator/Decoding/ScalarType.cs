namespace Qwen3Next.PtxEmulator.Decoding;

/// <summary>PTX fundamental types (PTX ISA §5.2.1).</summary>
public enum ScalarType : byte
{
    None,
    B8,
    B16,
    B32,
    B64,
    U8,
    U16,
    U32,
    U64,
    S8,
    S16,
    S32,
    S64,
    F16,
    BF16,
    F32,
    F64,
    Pred,
}

internal static class ScalarTypes
{
    public static ScalarType Parse(string modifier) => modifier switch
    {
        "b8" => ScalarType.B8,
        "b16" => ScalarType.B16,
        "b32" => ScalarType.B32,
        "b64" => ScalarType.B64,
        "u8" => ScalarType.U8,
        "u16" => ScalarType.U16,
        "u32" => ScalarType.U32,
        "u64" => ScalarType.U64,
        "s8" => ScalarType.S8,
        "s16" => ScalarType.S16,
        "s32" => ScalarType.S32,
        "s64" => ScalarType.S64,
        "f16" => ScalarType.F16,
        "bf16" => ScalarType.BF16,
        "f32" => ScalarType.F32,
        "f64" => ScalarType.F64,
        "pred" => ScalarType.Pred,
        _ => ScalarType.None,
    };

    public static int Bytes(this ScalarType t) => t switch
    {
        ScalarType.B8 or ScalarType.U8 or ScalarType.S8 or ScalarType.Pred => 1,
        ScalarType.B16 or ScalarType.U16 or ScalarType.S16 or ScalarType.F16 or ScalarType.BF16 => 2,
        ScalarType.B32 or ScalarType.U32 or ScalarType.S32 or ScalarType.F32 => 4,
        ScalarType.B64 or ScalarType.U64 or ScalarType.S64 or ScalarType.F64 => 8,
        _ => 0,
    };

    public static int Bits(this ScalarType t) => t.Bytes() * 8;

    public static bool IsSigned(this ScalarType t) => t is ScalarType.S8 or ScalarType.S16 or ScalarType.S32 or ScalarType.S64;

    public static bool IsFloat(this ScalarType t) => t is ScalarType.F16 or ScalarType.BF16 or ScalarType.F32 or ScalarType.F64;

    public static bool IsInteger(this ScalarType t) => t is >= ScalarType.B8 and <= ScalarType.S64;
}
