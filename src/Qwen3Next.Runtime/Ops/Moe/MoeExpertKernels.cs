using ILGPU;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Ops.Moe;

/// <summary>Sizes and mode of one grouped expert GEMM launch (a struct keeps the kernel signature short).</summary>
public readonly struct ExpertTileArgs
{
    public ExpertTileArgs(int experts, int topK, int denseRows, int rowTile, int inFeatures, int outFeatures, int unitBound, long slotStride)
    {
        Experts = experts;
        TopK = topK;
        DenseRows = denseRows;
        RowTile = rowTile;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        UnitBound = unitBound;
        SlotStride = slotStride;
    }

    public int Experts { get; }

    public int TopK { get; }

    /// <summary>0 for the routed experts (tiles from the device tile list); otherwise the token count of a dense
    /// single-weight call (the shared expert): slot 0, row r is token r.</summary>
    public int DenseRows { get; }

    /// <summary>Rows per tile, at most <see cref="MoeExpertKernels.RowTile"/>; the launcher passes min(32, T).</summary>
    public int RowTile { get; }

    public int InFeatures { get; }

    public int OutFeatures { get; }

    /// <summary>Host-known upper bound of (row tile × feature tile) units; groups loop grid-stride up to it and stop at
    /// the device's real tile count.</summary>
    public int UnitBound { get; }

    /// <summary>Elements between consecutive slots of the weight view.</summary>
    public long SlotStride { get; }
}

/// <summary>
/// Grouped SwiGLU expert GEMM over expert-sorted rows. A unit of work is (row tile of one expert) × (32 output features):
/// its bf16 weight slice is staged in shared memory once per 64-wide k slice (adjacent threads read adjacent k) and
/// reused by every row of the tile, so at decode (one row per expert) each weight byte is read once and at prefill
/// once per 32 rows. Thread t owns feature t mod 32 and rows t/32, t/32 + G/32, …; accumulation is fp32.
/// Barriers per unit: 2 per 64-wide k slice (H=2048: 64; the small test shapes: 2–4).
/// </summary>
public static class MoeExpertKernels
{
    public const int RowTile = 32;
    public const int FeatureTile = 32;
    public const int KTile = 64;
    private const int Pitch = KTile + 1;

    /// <summary><c>h[pos, i] = silu(x[token]·Wg[i]) · (x[token]·Wu[i])</c> for i &lt; I, with x <c>[T, H]</c>, h <c>[rows, I]</c>.
    /// <paramref name="gate"/> and <paramref name="up"/> are views whose slot s starts at s·SlotStride, rows <c>[I, H]</c>.</summary>
    public static void GateUp(ArrayView<float> x, ArrayView<ushort> gate, ArrayView<ushort> up, ArrayView<int> slotOf,
        ArrayView<int> rowOffsets, ArrayView<int> tileOffsets, ArrayView<int> gather, ArrayView<float> h, ExpertTileArgs args)
    {
        var xs = SharedMemory.Allocate<float>(RowTile * Pitch);
        var wg = SharedMemory.Allocate<float>(FeatureTile * Pitch);
        var wu = SharedMemory.Allocate<float>(FeatureTile * Pitch);
        var accGate = LocalMemory.Allocate<float>(RowTile);
        var accUp = LocalMemory.Allocate<float>(RowTile);
        int tid = Group.IdxX, groupSize = Group.DimX;
        int n = tid % FeatureTile, rowStep = groupSize / FeatureTile;
        int inF = args.InFeatures, outF = args.OutFeatures;
        int featureTiles = (outF + FeatureTile - 1) / FeatureTile;
        int totalTiles = TotalTiles(tileOffsets, args);
        for (int unit = Grid.IdxX; unit < args.UnitBound; unit += Grid.DimX)
        {
            int tile = unit / featureTiles;
            if (tile >= totalTiles)
            {
                break;
            }

            var span = Resolve(tile, slotOf, rowOffsets, tileOffsets, args);
            int o = ((unit % featureTiles) * FeatureTile) + n;
            for (int q = 0; q < RowTile; q++)
            {
                accGate[q] = 0;
                accUp[q] = 0;
            }

            for (int k0 = 0; k0 < inF; k0 += KTile)
            {
                for (int e = tid; e < span.RowCount * KTile; e += groupSize)
                {
                    int rr = e / KTile, k = k0 + (e % KTile);
                    int pos = span.RowStart + rr;
                    long token = args.DenseRows > 0 ? pos : gather[pos] / args.TopK;
                    xs[(rr * Pitch) + (e % KTile)] = k < inF ? x[(token * inF) + k] : 0f;
                }

                StageWeights(gate, wg, span.WeightBase, (unit % featureTiles) * FeatureTile, k0, inF, outF);
                StageWeights(up, wu, span.WeightBase, (unit % featureTiles) * FeatureTile, k0, inF, outF);
                Group.Barrier();
                for (int kk = 0; kk < KTile; kk++)
                {
                    float g = wg[(n * Pitch) + kk], u = wu[(n * Pitch) + kk];
                    for (int q = 0; q * rowStep < span.RowCount; q++)
                    {
                        int r = (tid / FeatureTile) + (q * rowStep);
                        if (r < span.RowCount)
                        {
                            float xv = xs[(r * Pitch) + kk];
                            accGate[q] += xv * g;
                            accUp[q] += xv * u;
                        }
                    }
                }

                Group.Barrier();
            }

            for (int q = 0; q * rowStep < span.RowCount; q++)
            {
                int r = (tid / FeatureTile) + (q * rowStep);
                if (r < span.RowCount && o < outF)
                {
                    h[((long)(span.RowStart + r) * outF) + o] = KernelMath.Silu(accGate[q]) * accUp[q];
                }
            }
        }
    }

    /// <summary><c>y[pos, o] = h[pos]·Wd[o]</c> for o &lt; H, with h <c>[rows, I]</c>, y <c>[rows, H]</c>, Wd slot rows <c>[H, I]</c>.</summary>
    public static void Down(ArrayView<float> h, ArrayView<ushort> down, ArrayView<int> slotOf, ArrayView<int> rowOffsets,
        ArrayView<int> tileOffsets, ArrayView<float> y, ExpertTileArgs args)
    {
        var hs = SharedMemory.Allocate<float>(RowTile * Pitch);
        var wd = SharedMemory.Allocate<float>(FeatureTile * Pitch);
        var acc = LocalMemory.Allocate<float>(RowTile);
        int tid = Group.IdxX, groupSize = Group.DimX;
        int n = tid % FeatureTile, rowStep = groupSize / FeatureTile;
        int inF = args.InFeatures, outF = args.OutFeatures;
        int featureTiles = (outF + FeatureTile - 1) / FeatureTile;
        int totalTiles = TotalTiles(tileOffsets, args);
        for (int unit = Grid.IdxX; unit < args.UnitBound; unit += Grid.DimX)
        {
            int tile = unit / featureTiles;
            if (tile >= totalTiles)
            {
                break;
            }

            var span = Resolve(tile, slotOf, rowOffsets, tileOffsets, args);
            int o = ((unit % featureTiles) * FeatureTile) + n;
            for (int q = 0; q < RowTile; q++)
            {
                acc[q] = 0;
            }

            for (int k0 = 0; k0 < inF; k0 += KTile)
            {
                for (int e = tid; e < span.RowCount * KTile; e += groupSize)
                {
                    int rr = e / KTile, k = k0 + (e % KTile);
                    hs[(rr * Pitch) + (e % KTile)] = k < inF ? h[((long)(span.RowStart + rr) * inF) + k] : 0f;
                }

                StageWeights(down, wd, span.WeightBase, (unit % featureTiles) * FeatureTile, k0, inF, outF);
                Group.Barrier();
                for (int kk = 0; kk < KTile; kk++)
                {
                    float w = wd[(n * Pitch) + kk];
                    for (int q = 0; q * rowStep < span.RowCount; q++)
                    {
                        int r = (tid / FeatureTile) + (q * rowStep);
                        if (r < span.RowCount)
                        {
                            acc[q] += hs[(r * Pitch) + kk] * w;
                        }
                    }
                }

                Group.Barrier();
            }

            for (int q = 0; q * rowStep < span.RowCount; q++)
            {
                int r = (tid / FeatureTile) + (q * rowStep);
                if (r < span.RowCount && o < outF)
                {
                    y[((long)(span.RowStart + r) * outF) + o] = acc[q];
                }
            }
        }
    }

    /// <summary>Widens a 32-feature × 64-k slice of one slot's <c>[out, in]</c> weight into shared memory (zeros past the edges).</summary>
    private static void StageWeights(ArrayView<ushort> w, ArrayView<float> staged, long weightBase, int featureBase, int k0, int inF, int outF)
    {
        for (int e = Group.IdxX; e < FeatureTile * KTile; e += Group.DimX)
        {
            int nn = e / KTile, kk = e % KTile;
            int o = featureBase + nn, k = k0 + kk;
            staged[(nn * Pitch) + kk] = o < outF && k < inF ? KernelMath.Bf16(w[weightBase + ((long)o * inF) + k]) : 0f;
        }
    }

    private static int TotalTiles(ArrayView<int> tileOffsets, ExpertTileArgs args)
        => args.DenseRows > 0 ? (args.DenseRows + args.RowTile - 1) / args.RowTile : tileOffsets[args.Experts];

    /// <summary>The expert of a tile is the last one whose first tile is at or before it (binary search over
    /// <c>tileOffsets</c>; empty experts share their successor's offset and are skipped by taking the last).</summary>
    private static TileSpan Resolve(int tile, ArrayView<int> slotOf, ArrayView<int> rowOffsets, ArrayView<int> tileOffsets, ExpertTileArgs args)
    {
        if (args.DenseRows > 0)
        {
            int start = tile * args.RowTile;
            int count = args.DenseRows - start < args.RowTile ? args.DenseRows - start : args.RowTile;
            return new TileSpan(start, count, 0);
        }

        int lo = 0, hi = args.Experts - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (tileOffsets[mid] <= tile)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        int rowStart = rowOffsets[lo] + ((tile - tileOffsets[lo]) * args.RowTile);
        int remaining = rowOffsets[lo + 1] - rowStart;
        return new TileSpan(rowStart, remaining < args.RowTile ? remaining : args.RowTile, slotOf[lo] * args.SlotStride);
    }

    private readonly struct TileSpan(int rowStart, int rowCount, long weightBase)
    {
        public int RowStart { get; } = rowStart;

        public int RowCount { get; } = rowCount;

        public long WeightBase { get; } = weightBase;
    }
}
