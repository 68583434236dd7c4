using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using static Qwen3Next.Backends.Ptx.LaunchChecks;

namespace Qwen3Next.Ops.Attention;

/// <summary>
/// Launchers of <c>kernels/attention/*.cu</c> (ABI in <c>kernels/README.md</c>). Prefill (T &gt; 1): qk_norm_rope →
/// flash_prefill. Decode (T = 1): qk_norm_rope → flash_decode (split-KV, 256 positions per split) → decode_combine.
/// q_norm/k_norm, RoPE and the cache append happen in qk_norm_rope; the sigmoid gate in the last kernel. No host sync.
/// </summary>
public sealed class PtxGatedAttentionOps(PtxBackend backend) : IGatedAttentionOps
{
    public const string QkNormRope = "attn_qk_norm_rope";
    public const string FlashPrefill = "attn_flash_prefill";
    public const string FlashDecode = "attn_flash_decode";
    public const string DecodeCombine = "attn_decode_combine";

    /// <summary>Cache positions per flash-decode split.</summary>
    public const int DecodeSplit = 256;

    public static IReadOnlyList<string> KernelNames { get; } = [QkNormRope, FlashPrefill, FlashDecode, DecodeCombine];

    private readonly KernelArguments args = new();

    internal static void CheckHeads(string kernel, int queryHeads, int kvHeads, int headDim)
    {
        Positive(kernel, "Hq", queryHeads);
        Positive(kernel, "Hkv", kvHeads);
        Positive(kernel, "D", headDim);
        Require(queryHeads % kvHeads == 0, kernel, $"Hq = {queryHeads} is not a multiple of Hkv = {kvHeads}");
    }

    internal static LaunchConfig QkNormRopeConfig(int tokens, int queryHeads, int kvHeads, int headDim, int rotaryDim)
    {
        CheckHeads(QkNormRope, queryHeads, kvHeads, headDim);
        Positive(QkNormRope, "T", tokens);
        AtMost(QkNormRope, "D", headDim, 512);
        Require(rotaryDim >= 0 && rotaryDim <= headDim && rotaryDim % 2 == 0, QkNormRope, $"rotary_dim = {rotaryDim} must be even and at most D = {headDim}");
        AtMost(QkNormRope, "Hq + Hkv", queryHeads + kvHeads, 65535);
        return new LaunchConfig(new LaunchDims(tokens, queryHeads + kvHeads), 128);
    }

    /// <summary>One block per 64 query rows = 64/G tokens x G heads; dyn smem 4·(80·(D+4) + 16·D + 1024 + 192): 104,448 B at D = 256.</summary>
    internal static LaunchConfig FlashPrefillConfig(int tokens, int queryHeads, int kvHeads, int headDim)
    {
        CheckHeads(FlashPrefill, queryHeads, kvHeads, headDim);
        Positive(FlashPrefill, "T", tokens);
        Require(headDim is 64 or 128 or 256, FlashPrefill, $"D = {headDim} must be 64, 128 or 256");
        int group = queryHeads / kvHeads;
        Require(64 % group == 0, FlashPrefill, $"G = Hq/Hkv = {group} must divide 64");
        AtMost(FlashPrefill, "Hkv", kvHeads, 65535);
        var config = new LaunchConfig(new LaunchDims(CeilDiv(tokens, 64 / group), kvHeads), 256, 4 * ((80 * (headDim + 4)) + (16 * headDim) + 1024 + 192));
        config.Validate(FlashPrefill);
        return config;
    }

    public static int DecodeSplits(int kvLength) => Math.Max(1, CeilDiv(kvLength, DecodeSplit));

    /// <summary>Dyn smem 4·(G·(D+4) + 32·(D+4) + 32·D + 32·G + 3·G): 75,488 B at G = 8, D = 256.</summary>
    internal static LaunchConfig FlashDecodeConfig(int kvLength, int queryHeads, int kvHeads, int headDim)
    {
        CheckHeads(FlashDecode, queryHeads, kvHeads, headDim);
        Positive(FlashDecode, "kv_len", kvLength);
        int group = queryHeads / kvHeads;
        AtMost(FlashDecode, "G", group, 64);
        AtMost(FlashDecode, "G·D", (long)group * headDim, 4096);
        Require(headDim % 4 == 0, FlashDecode, $"D = {headDim} must be a multiple of 4");
        AtMost(FlashDecode, "Hkv", kvHeads, 65535);
        var config = new LaunchConfig(new LaunchDims(DecodeSplits(kvLength), kvHeads), 256,
            4 * ((group * (headDim + 4)) + (32 * (headDim + 4)) + (32 * headDim) + (32 * group) + (3 * group)));
        config.Validate(FlashDecode);
        return config;
    }

    internal static LaunchConfig DecodeCombineConfig(int queryHeads, int headDim)
    {
        Positive(DecodeCombine, "Hq", queryHeads);
        Positive(DecodeCombine, "D", headDim);
        return new LaunchConfig(queryHeads, 256);
    }

    public void Mixer(GatedAttentionShape shape, int tokens, DeviceTensor qg, DeviceTensor k, DeviceTensor v,
        DeviceWeight qNorm, DeviceWeight kNorm, KvCache cache, DeviceTensor y)
    {
        using var use = OpContracts.GatedAttention(backend.Access, shape, tokens, qg, k, v, qNorm, kNorm, cache, y);
        var (t, hq, hkv, d) = (tokens, shape.QueryHeads, shape.KeyValueHeads, shape.HeadDim);
        int start = cache.Length, capacity = cache.Capacity;
        var ropeConfig = QkNormRopeConfig(t, hq, hkv, d, shape.RotaryDim);
        var attend = t == 1 ? FlashDecodeConfig(start + 1, hq, hkv, d) : FlashPrefillConfig(t, hq, hkv, d);
        Holds(QkNormRope, "qg", qg.Length, (long)t * shape.QueryGateWidth);
        Holds(QkNormRope, "k", k.Length, (long)t * shape.KeyValueWidth);
        Holds(QkNormRope, "v", v.Length, (long)t * shape.KeyValueWidth);
        Holds(QkNormRope, "q_norm_w", qNorm.Length, d);
        Holds(QkNormRope, "k_norm_w", kNorm.Length, d);
        Holds(QkNormRope, "k_cache", cache.Keys.Length, (long)hkv * capacity * d);
        Holds(QkNormRope, "v_cache", cache.Values.Length, (long)hkv * capacity * d);
        Holds(t == 1 ? DecodeCombine : FlashPrefill, "y", y.Length, (long)t * shape.OutputWidth);

        var q = backend.Workspace.Get<float>("attn.q", (long)t * hq * d);
        var (qgView, keys, values, yView) = (PtxBackend.T(qg).Span, PtxBackend.T(cache.Keys).Span, PtxBackend.T(cache.Values).Span, PtxBackend.T(y).Span);
        backend.Launch(QkNormRope, ropeConfig, args.Clear().Add(q).Add(keys).Add(values).Add(qgView).Add(PtxBackend.T(k).Span).Add(PtxBackend.T(v).Span)
            .Add(PtxBackend.W(qNorm).Values).Add(PtxBackend.W(kNorm).Values).Add(t).Add(hq).Add(hkv).Add(d).Add(shape.RotaryDim).Add(start)
            .Add(capacity).Add(shape.RopeTheta).Add(shape.Eps));
        if (t == 1)
        {
            int kvLength = start + 1, splits = DecodeSplits(kvLength);
            var oPart = backend.Workspace.Get<float>("attn.o_part", (long)hq * splits * d);
            var mPart = backend.Workspace.Get<float>("attn.m_part", (long)hq * splits);
            var lPart = backend.Workspace.Get<float>("attn.l_part", (long)hq * splits);
            backend.Launch(FlashDecode, attend, args.Clear().Add(oPart).Add(mPart).Add(lPart).Add(q).Add(keys).Add(values)
                .Add(hq).Add(hkv).Add(d).Add(kvLength).Add(capacity).Add(shape.Scale));
            backend.Launch(DecodeCombine, DecodeCombineConfig(hq, d), args.Clear().Add(yView).Add(oPart).Add(mPart).Add(lPart).Add(qgView)
                .Add(hq).Add(d).Add(splits));
        }
        else
        {
            backend.Launch(FlashPrefill, attend, args.Clear().Add(yView).Add(q).Add(qgView).Add(keys).Add(values)
                .Add(t).Add(hq).Add(hkv).Add(d).Add(start).Add(capacity).Add(shape.Scale));
        }

        cache.Length += tokens;
    }
}
