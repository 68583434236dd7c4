using Qwen3Next.Cuda;
using static Qwen3Next.Backends.Ptx.LaunchChecks;

namespace Qwen3Next.Ops.GatedDelta;

/// <summary>
/// Names, limits, launch geometry and workspace sizes of the tensor-core chunked gated delta rule
/// (<c>kernels/gated_delta/chunk_tc.cu</c>, fast precision path): prepare (chunks × Hv) → state pass
/// (Dv/32 × Hv × B, sequential over each sequence's chunks) → output (chunks × Hv). Workspaces are chunk-padded:
/// <c>NC</c> chunks of 64 rows, so every tile is one aligned block.
/// </summary>
public static class GatedDeltaTensorCoreKernels
{
    public const string Prepare = "gdn_tc_prepare";
    public const string StatePass = "gdn_tc_state_pass";
    public const string Output = "gdn_tc_output";

    public const int Chunk = 64;

    /// <summary>Value columns per state-pass block (two warps of 16 rows of Sᵀ).</summary>
    public const int ValueTile = 32;

    public static IReadOnlyList<string> KernelNames { get; } = [Prepare, StatePass, Output];

    /// <summary>Head dims the kernels are instantiated for.</summary>
    public static bool Supports(int keyDim, int valueDim) => keyDim is 32 or 64 or 128 && valueDim is 32 or 64 or 128;

    /// <summary>3·64·(Dk+8)·2 + 2·64·(Dv+8)·2 + 2·64·72·2 + 64·65·4 + 64·66·4 + 3·16·18·4 + 2·64·4: 142,976 B at Dk = Dv = 128.</summary>
    public static int PrepareSharedBytes(int keyDim, int valueDim)
        => (3 * Chunk * (keyDim + 8) * 2) + (2 * Chunk * (valueDim + 8) * 2) + (2 * Chunk * 72 * 2) + (Chunk * 65 * 4) + (Chunk * 66 * 4) + (3 * 16 * 18 * 4)
            + (2 * Chunk * 4);

    /// <summary>Three pipeline stages of W and K (64 × (Dk+8) bf16 each), a 64 × 40 U slice hi and lo, and 64 gates: 135,936 B at Dk = 128.</summary>
    public static int StatePassSharedBytes(int keyDim) => 3 * ((2 * Chunk * (keyDim + 8) * 2) + (2 * Chunk * 40 * 2) + (Chunk * 4));

    /// <summary>q, k (64 × (Dk+8), hi and lo), h (Dv × (Dk+8)), v_new (Dv × 72, hi and lo) in bf16 and 64 gates: 141,568 B at Dk = Dv = 128.</summary>
    public static int OutputSharedBytes(int keyDim, int valueDim)
        => (4 * Chunk * (keyDim + 8) * 2) + (valueDim * (keyDim + 8) * 2) + (2 * valueDim * 72 * 2) + (Chunk * 4);

    private static void CheckHeads(string kernel, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        PtxGatedDeltaOps.CheckHeads(kernel, keyHeads, valueHeads, keyDim, valueDim);
        Require(Supports(keyDim, valueDim), kernel, $"Dk = {keyDim}, Dv = {valueDim}: the tensor-core kernels exist for Dk, Dv in {{32, 64, 128}}");
    }

    internal static LaunchConfig PrepareConfig(int chunks, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        CheckHeads(Prepare, keyHeads, valueHeads, keyDim, valueDim);
        Positive(Prepare, "NC", chunks);
        var config = new LaunchConfig(new LaunchDims(chunks, valueHeads), 128, PrepareSharedBytes(keyDim, valueDim));
        config.Validate(Prepare);
        return config;
    }

    internal static LaunchConfig StatePassConfig(int sequences, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        CheckHeads(StatePass, keyHeads, valueHeads, keyDim, valueDim);
        Positive(StatePass, "B", sequences);
        AtMost(StatePass, "B", sequences, 65535);
        var config = new LaunchConfig(new LaunchDims(valueDim / ValueTile, valueHeads, sequences), 64, StatePassSharedBytes(keyDim));
        config.Validate(StatePass);
        return config;
    }

    internal static LaunchConfig OutputConfig(int chunks, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        CheckHeads(Output, keyHeads, valueHeads, keyDim, valueDim);
        Positive(Output, "NC", chunks);
        var config = new LaunchConfig(new LaunchDims(chunks, valueHeads), 128, OutputSharedBytes(keyDim, valueDim));
        config.Validate(Output);
        return config;
    }

    /// <summary>Elements of each workspace for <paramref name="chunks"/> chunks: qb, kb bf16 [2, Hk, NC, 64, Dk]; w bf16
    /// [Hv, NC, 64, Dk]; u bf16 [2, Hv, NC, 64, Dv]; gcum fp32 [Hv, NC, 64]; h bf16 [Hv, NC, Dv, Dk]; vnew bf16
    /// [2, Hv, NC, Dv, 64] — the leading 2 is bf16(x) then bf16(x − bf16(x)), the hi and lo halves.</summary>
    public static (long QkBf16, long W, long U, long Gcum, long H, long VNew) WorkspaceElements(int chunks, int keyHeads, int valueHeads, int keyDim, int valueDim)
    {
        long rows = (long)chunks * Chunk;
        return (2 * keyHeads * rows * keyDim, valueHeads * rows * keyDim, 2 * valueHeads * rows * valueDim, valueHeads * rows,
            (long)valueHeads * chunks * valueDim * keyDim, 2 * valueHeads * rows * valueDim);
    }

    /// <summary>fla's chunk tables from the sequence lengths: chunk_indices [NC, 2] = (sequence, chunk within it) and
    /// chunk_offsets [B+1] (sequence b owns chunks offsets[b] .. offsets[b+1]−1).</summary>
    public static (int[] Indices, int[] Offsets) ChunkTables(ReadOnlySpan<int> lengths)
    {
        var offsets = new int[lengths.Length + 1];
        for (int b = 0; b < lengths.Length; b++)
        {
            offsets[b + 1] = offsets[b] + CeilDiv(lengths[b], Chunk);
        }

        var indices = new int[2 * offsets[^1]];
        for (int b = 0; b < lengths.Length; b++)
        {
            for (int c = offsets[b]; c < offsets[b + 1]; c++)
            {
                indices[2 * c] = b;
                indices[(2 * c) + 1] = c - offsets[b];
            }
        }

        return (indices, offsets);
    }
}
