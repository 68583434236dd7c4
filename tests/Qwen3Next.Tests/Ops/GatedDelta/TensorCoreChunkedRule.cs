using Qwen3Next.Ops.GatedDelta;

namespace Qwen3Next.Tests.Ops.GatedDelta;

/// <summary>
/// Runs the tensor-core chunked gated delta rule (<c>gdn_tc_prepare</c> → <c>gdn_tc_state_pass</c> →
/// <c>gdn_tc_output</c>) on the PTX emulator (sanitizer on) for a packed batch, as a launcher would: q and k are
/// l2-normalised (q scaled) on the host and packed with v in the conv-output layout <c>[T, conv_dim]</c>, the chunk
/// tables are built from the sequence lengths, the workspaces are left uninitialised.
/// </summary>
internal static class TensorCoreChunkedRule
{
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
        for (int b = 0; b < sequences; b++)
        {
            cu[b + 1] = cu[b] + lengths[b];
        }

        var (chunkIndices, chunkOffsets) = GatedDeltaTensorCoreKernels.ChunkTables(lengths);
        int nc = chunkOffsets[sequences];
        using var gpu = new EmulatedPtxKernels();
        var convDevice = gpu.Upload<float>(conv, "conv_out");
        ulong qAt = convDevice.Start, kAt = qAt + (ulong)(4 * keyHeads * keyDim), vAt = qAt + (ulong)(8 * keyHeads * keyDim);
        var poolDevice = gpu.Upload<float>(pool, "state_pool");
        var oDevice = gpu.Upload<float>(Enumerable.Repeat(float.NaN, Math.Max(1, tokens * valueHeads * valueDim)).ToArray(), "o");
        var cuDevice = gpu.Upload<int>(cu, "cu_seqlens");
        var indicesDevice = gpu.Upload<int>(nc == 0 ? [0, 0] : chunkIndices, "chunk_indices");
        var sizes = GatedDeltaTensorCoreKernels.WorkspaceElements(Math.Max(1, nc), keyHeads, valueHeads, keyDim, valueDim);
        var qb = gpu.Allocate<ushort>(sizes.QkBf16, "qb");
        var kb = gpu.Allocate<ushort>(sizes.QkBf16, "kb");
        var w = gpu.Allocate<ushort>(sizes.W, "w");
        var u = gpu.Allocate<ushort>(sizes.U, "u");
        var gcum = gpu.Allocate<float>(sizes.Gcum, "gcum");
        var h = gpu.Allocate<ushort>(sizes.H, "h");
        var vnew = gpu.Allocate<ushort>(sizes.VNew, "vnew");
        if (nc > 0)
        {
            gpu.Launch(GatedDeltaTensorCoreKernels.Prepare, GatedDeltaTensorCoreKernels.PrepareConfig(nc, keyHeads, valueHeads, keyDim, valueDim),
                qb, kb, w, u, gcum, qAt, kAt, vAt, gpu.Upload<float>(g, "gate"), gpu.Upload<float>(beta, "beta"), cuDevice, indicesDevice,
                keyHeads, valueHeads, keyDim, valueDim, convDim, convDim, convDim);
            gpu.Launch(GatedDeltaTensorCoreKernels.StatePass, GatedDeltaTensorCoreKernels.StatePassConfig(sequences, keyHeads, valueHeads, keyDim, valueDim),
                h, vnew, poolDevice, kb, w, u, gcum, gpu.Upload<int>(chunkOffsets, "chunk_offsets"), gpu.Upload<int>(slotIds, "slot_ids"), nc,
                keyHeads, valueHeads, keyDim, valueDim);
            gpu.Launch(GatedDeltaTensorCoreKernels.Output, GatedDeltaTensorCoreKernels.OutputConfig(nc, keyHeads, valueHeads, keyDim, valueDim),
                oDevice, qb, kb, h, vnew, gcum, cuDevice, indicesDevice, keyHeads, valueHeads, keyDim, valueDim, valueHeads * valueDim);
        }

        gpu.Download<float>(poolDevice, pool.Length).CopyTo(pool, 0);
        return gpu.Download<float>(oDevice, tokens * valueHeads * valueDim);
    }
}
