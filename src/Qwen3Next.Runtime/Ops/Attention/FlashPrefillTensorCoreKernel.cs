using Qwen3Next.Cuda;
using static Qwen3Next.Backends.Ptx.LaunchChecks;

namespace Qwen3Next.Ops.Attention;

/// <summary>
/// Name, limits and launch geometry of <c>attn_flash_prefill_tc</c> (<c>kernels/attention/flash_prefill_tc.cu</c>,
/// fast precision path): one block of 8 warps per 128 query rows = 128/G tokens × the G heads of a KV head, over a
/// packed batch and a paged bf16 cache.
/// </summary>
public static class FlashPrefillTensorCoreKernel
{
    public const string Name = "attn_flash_prefill_tc";

    /// <summary>Query rows (tokens × heads of one GQA group) per block.</summary>
    public const int Rows = 128;

    public static bool Supports(int queryHeads, int kvHeads, int headDim)
        => headDim is 64 or 128 or 256 && kvHeads > 0 && queryHeads % kvHeads == 0 && Rows % (queryHeads / kvHeads) == 0;

    /// <summary>Q tile (128 rows) and two stages of K and V tiles (64 rows each), bf16 rows of D + 8: 768·(D + 8) bytes.</summary>
    public static int SharedBytes(int headDim) => 768 * (headDim + 8);

    internal static LaunchConfig Config(int maxSequenceTokens, int sequences, int queryHeads, int kvHeads, int headDim)
    {
        PtxGatedAttentionOps.CheckHeads(Name, queryHeads, kvHeads, headDim);
        Require(Supports(queryHeads, kvHeads, headDim), Name, $"D = {headDim}, G = {queryHeads / kvHeads}: D must be 64, 128 or 256 and G divide {Rows}");
        Positive(Name, "max_len", maxSequenceTokens);
        Positive(Name, "B", sequences);
        AtMost(Name, "Hkv", kvHeads, 65535);
        AtMost(Name, "B", sequences, 65535);
        var config = new LaunchConfig(new LaunchDims(CeilDiv(maxSequenceTokens, Rows / (queryHeads / kvHeads)), kvHeads, sequences), 256, SharedBytes(headDim));
        config.Validate(Name);
        return config;
    }
}
