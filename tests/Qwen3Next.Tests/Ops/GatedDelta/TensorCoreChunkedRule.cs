using Qwen3Next.Ops.GatedDelta;
using Qwen3Next.PtxEmulator.Execution;

namespace Qwen3Next.Tests.Ops.GatedDelta;

/// <summary>
/// Runs the tensor-core chunked gated delta rule (<c>gdn_tc_prepare</c> → <c>gdn_tc_state_pass</c> →
/// <c>gdn_tc_output</c>) on the PTX emulator (sanitizer on) for a packed batch, as a launcher would: q and k are
/// l2-normalised (q scaled) on the host and packed with v in the conv-output layout <c>[T, conv_dim]</c>, the chunk
/// tables are built from the sequence lengths, the workspaces are left uninitialised.
/// </summary>
internal static class TensorCoreChunkedRule
{
    public static int PrepareSharedBytes(int dk, int dv) => (2 * 64 * (dk + 8) * 2) + (64 * (dv + 8) * 2) + (64 * 72 * 2) + (2 * 64 * 65 * 4) + (3 * 16 * 17 * 4) + (2 * 64 * 4);

    public static int StatePassSharedBytes(int dk) => 3 * ((2 * 64 * (dk + 8) * 2) + (64 * 40 * 2) + (64 * 4));

    public static int OutputSharedBytes(int dk, int dv) => (2 * 64 * (dk + 8) * 2) + (dv * (dk + 8) * 2) + (dv * 72 * 2) + (64 * 4);

    /// <summary>q, k <c>[T, Hk, Dk]</c> raw (normalised here when <paramref name="l2"/>); v <c>[T, Hv, Dv]</c>; g, beta
    /// <c>[T, Hv]</c>; the state pool <c>[slots, Hv, Dk, Dv]</c> is advanced in place. Returns o <c>[T, Hv, Dv]</c>.</summary>
    public static float[] Run(int[] lengths, int keyHeads, int valueHeads, int keyDim, int valueDim, float[] q, float[] k, float[] v, float[] g,
        float[] beta, float[] pool, int[] slotIds, bool l2, float scale)
    {
        int sequences = lengths.Length, tokens = lengths.Sum();
        int convDim = (2 * keyHeads * keyDim) + (valueHeads * valueDim);
        var qn = GatedDeltaRuleReference.Normalise(q, tokens * keyHeads, keyDim, l2, scale);
        var kn = GatedDeltaRuleReference.Normalise(k, tokens * keyHeads, keyDim, l2, 1f);
        var conv = new float[Math.Max(1, tokens * convDim)];
        for (int t = 0; t < tokens; t++)
        {
            qn.AsSpan(t * keyHeads * keyDim, keyHeads * keyDim).CopyTo(conv.AsSpan(t * convDim));
            kn.AsSpan(t * keyHeads * keyDim, keyHeads * keyDim).CopyTo(conv.AsSpan((t * convDim) + (keyHeads * keyDim)));
            v.AsSpan(t * valueHeads * valueDim, valueHeads * valueDim).CopyTo(conv.AsSpan((t * convDim) + (2 * keyHeads * keyDim)));
        }

        var cu = new int[sequences + 1];
        var chunkOffsets = new int[sequences + 1];
        var chunkIndices = new List<int>();
        for (int b = 0; b < sequences; b++)
        {
            cu[b + 1] = cu[b] + lengths[b];
            int chunks = (lengths[b] + 63) / 64;
            chunkOffsets[b + 1] = chunkOffsets[b] + chunks;
            for (int c = 0; c < chunks; c++)
            {
                chunkIndices.AddRange([b, c]);
            }
        }

        int nc = chunkOffsets[sequences];
        using var gpu = new EmulatedPtxKernels();
        var convDevice = gpu.Upload<float>(conv, "conv_out");
        ulong qAt = convDevice.Start, kAt = qAt + (ulong)(4 * keyHeads * keyDim), vAt = qAt + (ulong)(8 * keyHeads * keyDim);
        var poolDevice = gpu.Upload<float>(pool, "state_pool");
        var oDevice = gpu.Upload<float>(Enumerable.Repeat(float.NaN, Math.Max(1, tokens * valueHeads * valueDim)).ToArray(), "o");
        var cuDevice = gpu.Upload<int>(cu, "cu_seqlens");
        var indicesDevice = gpu.Upload<int>(chunkIndices.Count == 0 ? [0, 0] : [.. chunkIndices], "chunk_indices");
        long tile = (long)Math.Max(1, nc) * 64;
        var qb = gpu.Allocate<ushort>(keyHeads * tile * keyDim, "qb");
        var kb = gpu.Allocate<ushort>(keyHeads * tile * keyDim, "kb");
        var w = gpu.Allocate<ushort>(valueHeads * tile * keyDim, "w");
        var u = gpu.Allocate<ushort>(valueHeads * tile * valueDim, "u");
        var gcum = gpu.Allocate<float>(valueHeads * tile, "gcum");
        var h = gpu.Allocate<ushort>(valueHeads * tile / 64 * valueDim * keyDim, "h");
        var vnew = gpu.Allocate<ushort>(valueHeads * tile * valueDim, "vnew");
        if (nc > 0)
        {
            gpu.Launch("gdn_tc_prepare", new LaunchGeometry(new Dim3(nc, valueHeads), 128, PrepareSharedBytes(keyDim, valueDim)),
                qb, kb, w, u, gcum, qAt, kAt, vAt, gpu.Upload<float>(g, "gate"), gpu.Upload<float>(beta, "beta"), cuDevice, indicesDevice,
                keyHeads, valueHeads, keyDim, valueDim, convDim, convDim, convDim);
            gpu.Launch("gdn_tc_state_pass", new LaunchGeometry(new Dim3(valueDim / 32, valueHeads, sequences), 64, StatePassSharedBytes(keyDim)),
                h, vnew, poolDevice, kb, w, u, gcum, gpu.Upload<int>(chunkOffsets, "chunk_offsets"), gpu.Upload<int>(slotIds, "slot_ids"), nc,
                keyHeads, valueHeads, keyDim, valueDim);
            gpu.Launch("gdn_tc_output", new LaunchGeometry(new Dim3(nc, valueHeads), 128, OutputSharedBytes(keyDim, valueDim)),
                oDevice, qb, kb, h, vnew, gcum, cuDevice, indicesDevice, keyHeads, valueHeads, keyDim, valueDim, valueHeads * valueDim);
        }

        gpu.Download<float>(poolDevice, pool.Length).CopyTo(pool, 0);
        return gpu.Download<float>(oDevice, tokens * valueHeads * valueDim);
    }
}
