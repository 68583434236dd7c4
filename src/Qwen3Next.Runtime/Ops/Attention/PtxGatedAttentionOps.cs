using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using static Qwen3Next.Backends.Ptx.LaunchChecks;

namespace Qwen3Next.Ops.Attention;

/// <summary>
/// Launchers of <c>kernels/attention/*.cu</c> (ABI in <c>kernels/README.md</c>), over a packed batch and a paged cache.
/// Prefill or mixed batch: qk_norm_rope → flash_prefill. Decode batch (one token per sequence): qk_norm_rope →
/// flash_decode (split-KV per sequence, up to 256 cache rows per split) → decode_combine. q_norm/k_norm, RoPE (from the
/// shared table) and the paged cache append happen in qk_norm_rope; the sigmoid gate in the last kernel. No host sync.
/// Fast precision (<see cref="TensorCorePrefill"/>): the cache is bf16 (<see cref="CacheElement"/>), written by
/// qk_norm_rope_bf16 (round to nearest even), read directly by the tensor-core prefill and by flash_decode_bf16 (fp32
/// math). The kernels take the pools' element type from the cache, so one path serves both: an fp32 cache handed to a
/// fast backend still gets the tensor-core prefill over a bf16 copy of the rows the batch reads (<c>attn_pages_bf16</c>).
/// </summary>
public sealed class PtxGatedAttentionOps(PtxBackend backend) : IGatedAttentionOps
{
    public const string QkNormRope = "attn_qk_norm_rope";
    public const string FlashPrefill = "attn_flash_prefill";
    public const string FlashDecode = "attn_flash_decode";
    public const string DecodeCombine = "attn_decode_combine";
    public const string QkNormRopeBf16 = "attn_qk_norm_rope_bf16";
    public const string FlashDecodeBf16 = "attn_flash_decode_bf16";

    /// <summary>Cache positions per flash-decode split.</summary>
    public const int DecodeSplit = 256;

    public const string PagesBf16 = "attn_pages_bf16";

    /// <summary>Cache rows per <c>attn_pages_bf16</c> block.</summary>
    public const int PagesBf16Rows = 64;

    public static IReadOnlyList<string> KernelNames { get; } = [QkNormRope, FlashPrefill, FlashDecode, DecodeCombine];

    /// <summary>The fast precision's prefill kernels (sm_80-class mma, in the sm_90 PTX).</summary>
    public static IReadOnlyList<string> FastKernelNames { get; } = [PagesBf16, FlashPrefillTensorCoreKernel.Name, QkNormRopeBf16, FlashDecodeBf16];

    private readonly KernelArguments args = new();
    private readonly HostRopeTable rope = new();
    private int ropeVersion = -1;

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

    /// <summary>One block per 64 query rows = 64/G tokens x G heads of one sequence: grid (ceil(max_len / (64/G)), Hkv, B);
    /// dyn smem 4·(80·(D+4) + 16·D + 1024 + 192): 104,448 B at D = 256.</summary>
    internal static LaunchConfig FlashPrefillConfig(int maxLength, int queryHeads, int kvHeads, int headDim, int sequences = 1)
    {
        CheckHeads(FlashPrefill, queryHeads, kvHeads, headDim);
        Positive(FlashPrefill, "max_len", maxLength);
        Require(headDim is 64 or 128 or 256, FlashPrefill, $"D = {headDim} must be 64, 128 or 256");
        int group = queryHeads / kvHeads;
        Require(64 % group == 0, FlashPrefill, $"G = Hq/Hkv = {group} must divide 64");
        AtMost(FlashPrefill, "Hkv", kvHeads, 65535);
        AtMost(FlashPrefill, "B", sequences, 65535);
        var config = new LaunchConfig(new LaunchDims(CeilDiv(maxLength, 64 / group), kvHeads, sequences), 256,
            4 * ((80 * (headDim + 4)) + (16 * headDim) + 1024 + 192));
        config.Validate(FlashPrefill);
        return config;
    }

    /// <summary>Grid (ceil(max_ctx / 64), Hkv, B): 64 cache rows of one KV head of one sequence per block.</summary>
    internal static LaunchConfig PagesBf16Config(int maxContext, int kvHeads, int headDim, int sequences)
    {
        Positive(PagesBf16, "max_ctx", maxContext);
        Positive(PagesBf16, "Hkv", kvHeads);
        Require(headDim > 0 && headDim % 4 == 0, PagesBf16, $"D = {headDim} must be a positive multiple of 4");
        AtMost(PagesBf16, "Hkv", kvHeads, 65535);
        AtMost(PagesBf16, "B", sequences, 65535);
        var config = new LaunchConfig(new LaunchDims(CeilDiv(maxContext, PagesBf16Rows), kvHeads, sequences), 256);
        config.Validate(PagesBf16);
        return config;
    }

    /// <summary>Prefill runs on the tensor cores: fast precision, a head shape the kernel has, and the kernels embedded.</summary>
    internal bool TensorCorePrefill(GatedAttentionShape shape)
        => backend.Precision == Precision.Fast && FlashPrefillTensorCoreKernel.Supports(shape.QueryHeads, shape.KeyValueHeads, shape.HeadDim)
            && backend.Kernels.Catalog.Contains(FlashPrefillTensorCoreKernel.Name) && backend.Kernels.Catalog.Contains(PagesBf16);

    /// <summary>bf16 when the fast precision's kernels cover the shape (the tensor-core prefill and the bf16 writer and
    /// decode kernels are embedded), else fp32.</summary>
    internal KvElement CacheElement(GatedAttentionShape shape)
        => TensorCorePrefill(shape) && backend.Kernels.Catalog.Contains(QkNormRopeBf16) && backend.Kernels.Catalog.Contains(FlashDecodeBf16)
            ? KvElement.BFloat16 : KvElement.Float32;

    /// <summary>CTAs a decode grid should reach at least: the H200's SM count, so the split-KV kernel fills the GPU at
    /// every context length instead of running one CTA per KV head on a short context.</summary>
    public const int FillCtas = 132;

    /// <summary>Most splits <c>attn_decode_combine</c> weighs (<c>DECODE_MAX_SPLITS</c>): 262,144 cached tokens.</summary>
    public const int DecodeMaxSplits = 1024;

    /// <summary>Splits that <paramref name="kvLength"/> (the longest context) needs at <see cref="DecodeSplit"/> cache
    /// rows per split.</summary>
    public static int ContextSplits(int kvLength) => Math.Max(1, CeilDiv(kvLength, DecodeSplit));

    /// <summary>KV splits of every sequence of a decode batch: <see cref="ContextSplits"/>, and at least enough that
    /// splits·Hkv·B reaches <see cref="FillCtas"/>; shorter contexts split into as many, shorter pieces (a split past
    /// the end of its sequence is empty and combines as nothing). Depends on the context only through
    /// <see cref="ContextSplits"/>, so a captured decode step stays valid for 256 tokens at a time.</summary>
    public static int DecodeSplits(int kvLength, int kvHeads, int sequences)
        => Math.Max(ContextSplits(kvLength), CeilDiv(FillCtas, Math.Max(1, kvHeads * sequences)));

    /// <summary>Grid (splits, Hkv, B); dyn smem 4·(G·(D+4) + 32·(D+4) + 32·D + 32·G + 3·G): 75,488 B at G = 8, D = 256.</summary>
    internal static LaunchConfig FlashDecodeConfig(int kvLength, int queryHeads, int kvHeads, int headDim, int sequences = 1)
    {
        CheckHeads(FlashDecode, queryHeads, kvHeads, headDim);
        Positive(FlashDecode, "kv_len", kvLength);
        int group = queryHeads / kvHeads;
        AtMost(FlashDecode, "G", group, 64);
        AtMost(FlashDecode, "G·D", (long)group * headDim, 4096);
        Require(headDim % 4 == 0, FlashDecode, $"D = {headDim} must be a multiple of 4");
        AtMost(FlashDecode, "Hkv", kvHeads, 65535);
        AtMost(FlashDecode, "B", sequences, 65535);
        AtMost(FlashDecode, "splits (attn_decode_combine holds 1024 weights)", DecodeSplits(kvLength, kvHeads, sequences), DecodeMaxSplits);
        var config = new LaunchConfig(new LaunchDims(DecodeSplits(kvLength, kvHeads, sequences), kvHeads, sequences), 256,
            4 * ((group * (headDim + 4)) + (32 * (headDim + 4)) + (32 * headDim) + (32 * group) + (3 * group)));
        config.Validate(FlashDecode);
        return config;
    }

    internal static LaunchConfig DecodeCombineConfig(int queryHeads, int headDim, int sequences = 1)
    {
        Positive(DecodeCombine, "Hq", queryHeads);
        Positive(DecodeCombine, "D", headDim);
        AtMost(DecodeCombine, "B", sequences, 65535);
        return new LaunchConfig(new LaunchDims(queryHeads, sequences), 256);
    }

    public void Mixer(GatedAttentionShape shape, int tokens, DeviceTensor qg, DeviceTensor k, DeviceTensor v,
        DeviceWeight qNorm, DeviceWeight kNorm, KvCache cache, DeviceTensor y)
    {
        using var use = OpContracts.GatedAttention(backend.Access, shape, tokens, qg, k, v, qNorm, kNorm, cache, y);
        Mixer(shape, SequenceBatch.Single(cache.Length, tokens), qg, k, v, qNorm, kNorm, PagedKvCache.Of(cache), y);
        cache.Length += tokens;
    }

    /// <summary>A decode batch (one token per sequence) takes flash_decode + combine, any other batch flash_prefill, whose
    /// tiles never cross a sequence (a one-token sequence in a mixed batch is a tile of its own, without KV splits).</summary>
    public void Mixer(GatedAttentionShape shape, SequenceBatch batch, DeviceTensor qg, DeviceTensor k, DeviceTensor v,
        DeviceWeight qNorm, DeviceWeight kNorm, PagedKvCache cache, DeviceTensor y)
    {
        using var use = OpContracts.GatedAttention(backend.Access, shape, batch, qg, k, v, qNorm, kNorm, cache, y, bf16Cache: true);
        var (t, hq, hkv, d, sequences) = (batch.TotalTokens, shape.QueryHeads, shape.KeyValueHeads, shape.HeadDim, batch.Count);
        bool decode = batch.IsDecode, bf16Cache = cache.Element == KvElement.BFloat16;
        bool tensorCores = !decode && (bf16Cache || TensorCorePrefill(shape));
        Require(!bf16Cache || decode || FlashPrefillTensorCoreKernel.Supports(hq, hkv, d), FlashPrefillTensorCoreKernel.Name,
            $"a bf16 cache needs the tensor-core prefill, which has no kernel for Hq = {hq}, Hkv = {hkv}, D = {d}");
        Require(!bf16Cache || d % 8 == 0, FlashDecodeBf16, $"D = {d} must be a multiple of 8 (16-byte loads of bf16 cache rows)");
        var ropeConfig = QkNormRopeConfig(t, hq, hkv, d, shape.RotaryDim);
        var attend = decode ? FlashDecodeConfig(batch.MaxContext, hq, hkv, d, sequences)
            : tensorCores ? FlashPrefillTensorCoreKernel.Config(batch.MaxLength, sequences, hq, hkv, d)
            : FlashPrefillConfig(batch.MaxLength, hq, hkv, d, sequences);
        var pagesConfig = tensorCores && !bf16Cache ? PagesBf16Config(batch.MaxContext, hkv, d, sequences) : default;
        var combineConfig = DecodeCombineConfig(hq, d, sequences);
        long pool = (long)cache.NumPages * hkv * cache.PageSize * d;
        Holds(QkNormRope, "qg", qg.Length, (long)t * shape.QueryGateWidth);
        Holds(QkNormRope, "k", k.Length, (long)t * shape.KeyValueWidth);
        Holds(QkNormRope, "v", v.Length, (long)t * shape.KeyValueWidth);
        Holds(QkNormRope, "q_norm_w", qNorm.Length, d);
        Holds(QkNormRope, "k_norm_w", kNorm.Length, d);
        Holds(QkNormRope, "k_pages", cache.Keys.Length, cache.Element.Words(pool));
        Holds(QkNormRope, "v_pages", cache.Values.Length, cache.Element.Words(pool));
        Holds(decode ? DecodeCombine : FlashPrefill, "y", y.Length, (long)t * shape.OutputWidth);

        var meta = backend.Batches.Of(batch);
        var table = Rope(shape, batch.MaxPositionUsed + 1);
        var q = backend.Workspace.Get<float>("attn.q", (long)t * hq * d);
        var (qgView, yView) = (PtxBackend.T(qg).Span, PtxBackend.T(y).Span);
        var (keys, values) = (PtxBackend.T(cache.Keys), PtxBackend.T(cache.Values));
        // The pools as the kernels address them: fp32, or raw bf16 bits (two per float word of the tensor).
        KernelArguments Pools(KernelArguments a) => bf16Cache ? a.Add(keys.Bf16Span.Slice(0, pool)).Add(values.Bf16Span.Slice(0, pool))
            : a.Add(keys.Span).Add(values.Span);
        int pageSize = cache.PageSize, maxPages = batch.Layout.MaxPages;
        backend.Launch(bf16Cache ? QkNormRopeBf16 : QkNormRope, ropeConfig, Pools(args.Clear().Add(q)).Add(qgView).Add(PtxBackend.T(k).Span)
            .Add(PtxBackend.T(v).Span).Add(PtxBackend.W(qNorm).Values).Add(PtxBackend.W(kNorm).Values).Add(table).Add(meta.Positions)
            .Add(meta.CuSeqlens).Add(meta.ContextLengths).Add(meta.BlockTables).Add(t).Add(sequences).Add(hq).Add(hkv).Add(d).Add(shape.RotaryDim)
            .Add(pageSize).Add(maxPages).Add(shape.Eps));
        if (decode)
        {
            int splits = attend.Grid.X;
            var oPart = backend.Workspace.Get<float>("attn.o_part", (long)sequences * hq * splits * d);
            var mPart = backend.Workspace.Get<float>("attn.m_part", (long)sequences * hq * splits);
            var lPart = backend.Workspace.Get<float>("attn.l_part", (long)sequences * hq * splits);
            backend.Launch(bf16Cache ? FlashDecodeBf16 : FlashDecode, attend, Pools(args.Clear().Add(oPart).Add(mPart).Add(lPart).Add(q))
                .Add(meta.CuSeqlens).Add(meta.ContextLengths).Add(meta.BlockTables).Add(hq).Add(hkv).Add(d).Add(pageSize).Add(maxPages)
                .Add(shape.Scale));
            backend.Launch(DecodeCombine, combineConfig, args.Clear().Add(yView).Add(oPart).Add(mPart).Add(lPart).Add(qgView).Add(meta.CuSeqlens)
                .Add(hq).Add(d).Add(splits));
        }
        else if (tensorCores)
        {
            if (!bf16Cache)
            {
                var keysBf16 = backend.Workspace.Get<ushort>("attn.k_bf16", pool);
                var valuesBf16 = backend.Workspace.Get<ushort>("attn.v_bf16", pool);
                backend.Launch(PagesBf16, pagesConfig, args.Clear().Add(keysBf16).Add(valuesBf16).Add(keys.Span).Add(values.Span)
                    .Add(meta.ContextLengths).Add(meta.BlockTables).Add(hkv).Add(d).Add(pageSize).Add(maxPages));
                args.Clear().Add(yView).Add(q).Add(qgView).Add(keysBf16).Add(valuesBf16);
            }
            else
            {
                Pools(args.Clear().Add(yView).Add(q).Add(qgView));
            }

            backend.Launch(FlashPrefillTensorCoreKernel.Name, attend, args.Add(meta.CuSeqlens).Add(meta.ContextLengths).Add(meta.BlockTables)
                .Add(hq).Add(hkv).Add(d).Add(pageSize).Add(maxPages).Add(shape.Scale));
        }
        else
        {
            backend.Launch(FlashPrefill, attend, args.Clear().Add(yView).Add(q).Add(qgView).Add(keys.Span).Add(values.Span).Add(meta.CuSeqlens)
                .Add(meta.ContextLengths).Add(meta.BlockTables).Add(hq).Add(hkv).Add(d).Add(pageSize).Add(maxPages).Add(shape.Scale));
        }
    }

    /// <summary>The shared RoPE table on the device (workspace slot <c>attn.rope</c>), uploaded again only when the host table grows.</summary>
    private DeviceSpan<float> Rope(GatedAttentionShape shape, int positionsNeeded)
    {
        var values = rope.Covering(shape, positionsNeeded);
        var span = backend.Workspace.Get<float>("attn.rope", values.Length).Slice(0, values.Length);
        if (ropeVersion != rope.Version)
        {
            backend.CopyToDevice<float>(values, span);
            ropeVersion = rope.Version;
        }

        return span;
    }
}
