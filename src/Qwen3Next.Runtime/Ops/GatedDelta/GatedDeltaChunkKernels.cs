using ILGPU;
using ILGPU.Algorithms;

namespace Qwen3Next.Ops.GatedDelta;

/// <summary>
/// The chunked (WY) gated delta rule, chunk C = 64, as two kernels:
/// <list type="number">
/// <item><see cref="ChunkPrepare"/>, parallel over (chunk, value head): cumulative gate γ, the decay matrix
/// A = −tril(diag(β)KKᵀ ⊙ e^{γi−γj}, −1), its inverse T = (I − A)⁻¹, the WY factors U = T·diag(β)V and
/// W = T·diag(βe^γ)K, and the causal score matrix Aqk = tril(QKᵀ ⊙ e^{γi−γj}).</item>
/// <item><see cref="ChunkStatePass"/>, sequential over chunks, parallel over (value head, Dv column): V' = U − W·S,
/// O = (Q ⊙ e^γ)S + Aqk·V', S ← e^{γlast}S + (K ⊙ e^{γlast−γ})ᵀV'.</item>
/// </list>
/// Inputs: q, k <c>[T, Hk, Dk]</c> already l2-normalised (q also scaled), v <c>[T, Hv, Dv]</c>, g and β <c>[T, Hv]</c>.
/// Scratch, head-major with <c>Tp</c> = T rounded up to whole chunks: gamma <c>[Hv, Tp]</c>, u <c>[Hv, Tp, Dv]</c>,
/// w <c>[Hv, Tp, Dk]</c>, aqk <c>[Hv, Tp, C]</c>. State <c>[Hv, Dk, Dv]</c> (key index first), in and out.
/// Rows of a partial last chunk past T are never read or written: they would carry g = 0 and β = 0 and leave the
/// state untouched. Over a packed batch the chunks come from the batch's chunk list (fla's chunk_indices and
/// chunk_offsets in the int buffer <c>batch</c>, offsets in <see cref="GatedDeltaKernelDims.Batch"/>): a chunk never
/// crosses a sequence, chunk c owns scratch rows c·64.., and each sequence's state pass starts from and ends in its slot
/// of the state pool <c>[slots, Hv, Dk, Dv]</c>.
/// </summary>
public static class GatedDeltaChunkKernels
{
    public const int ChunkSize = 64;

    /// <summary>Largest Dk the state pass keeps in shared memory (the real model's 128).</summary>
    public const int MaxKeyDim = 128;

    /// <summary>Dv columns per state-pass group: one thread owns one column of S and of V'.</summary>
    public const int ValueTile = 32;

    /// <summary>
    /// One (chunk, value head) unit per group, grid-stride. Shared: A and T (2 × 64×64 floats), γ and β.
    /// Four barriers per unit. The triangular solve needs none inside: column j of T only depends on column j
    /// (T[i,j] = A[i,j] + Σ_{j&lt;m&lt;i} A[i,m]·T[m,j]), so each thread solves whole columns by forward substitution.
    /// </summary>
    public static void ChunkPrepare(ArrayView<int> batch, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> g,
        ArrayView<float> beta, ArrayView<float> gamma, ArrayView<float> u, ArrayView<float> w, ArrayView<float> aqk, GatedDeltaKernelDims dims)
    {
        const int C = ChunkSize;
        var decayed = SharedMemory.Allocate<float>(C * C);
        var inverse = SharedMemory.Allocate<float>(C * C);
        var gam = SharedMemory.Allocate<float>(C);
        var bet = SharedMemory.Allocate<float>(C);
        int hv = dims.ValueHeads, dk = dims.KeyDim, dvDim = dims.ValueDim;
        var layout = dims.Batch;
        for (int unit = Grid.IdxX; unit < layout.Chunks * hv; unit += Grid.DimX)
        {
            int chunk = unit / hv, h = unit % hv, kh = h / dims.Group;
            int sequence = batch[layout.ChunkIndices + (2 * chunk)];
            int start = batch[layout.CuSeqlens + sequence] + (C * batch[layout.ChunkIndices + (2 * chunk) + 1]);
            int n = XMath.Min(C, batch[layout.CuSeqlens + sequence + 1] - start);
            long headRow = ((long)h * dims.PaddedTokens) + (chunk * C);

            // γ_i = Σ_{m≤i} g_m: each thread sums its own prefix (64 adds at most) instead of a serial scan.
            for (int i = Group.IdxX; i < n; i += Group.DimX)
            {
                float cum = 0;
                for (int m = 0; m <= i; m++)
                {
                    cum += g[((start + m) * hv) + h];
                }

                gam[i] = cum;
                bet[i] = beta[((start + i) * hv) + h];
                gamma[headRow + i] = cum;
            }

            Group.Barrier();
            for (int e = Group.IdxX; e < n * C; e += Group.DimX)
            {
                int i = e / C, j = e % C;
                float kk = 0, qk = 0;
                if (j <= i)
                {
                    long ki = (((long)(start + i) * dims.KeyHeads) + kh) * dk;
                    long kj = (((long)(start + j) * dims.KeyHeads) + kh) * dk;
                    for (int m = 0; m < dk; m++)
                    {
                        float kjm = k[kj + m];
                        kk += k[ki + m] * kjm;
                        qk += q[ki + m] * kjm;
                    }
                }

                float decay = j <= i ? XMath.Exp(gam[i] - gam[j]) : 0f;
                decayed[e] = j < i ? -bet[i] * kk * decay : 0f;
                aqk[((headRow + i) * C) + j] = qk * decay;
            }

            Group.Barrier();
            for (int j = Group.IdxX; j < n; j += Group.DimX)
            {
                for (int i = j + 1; i < n; i++)
                {
                    float acc = decayed[(i * C) + j];
                    for (int m = j + 1; m < i; m++)
                    {
                        acc += decayed[(i * C) + m] * inverse[(m * C) + j];
                    }

                    inverse[(i * C) + j] = acc;
                }
            }

            Group.Barrier();

            // U and W rows, adjacent threads on adjacent features (coalesced v/k reads and u/w writes).
            for (int e = Group.IdxX; e < n * dvDim; e += Group.DimX)
            {
                int i = e / dvDim, d = e % dvDim;
                float acc = bet[i] * v[(((long)(start + i) * hv) + h) * dvDim + d];
                for (int m = 0; m < i; m++)
                {
                    acc += inverse[(i * C) + m] * bet[m] * v[(((long)(start + m) * hv) + h) * dvDim + d];
                }

                u[((headRow + i) * dvDim) + d] = acc;
            }

            for (int e = Group.IdxX; e < n * dk; e += Group.DimX)
            {
                int i = e / dk, d = e % dk;
                float acc = bet[i] * XMath.Exp(gam[i]) * k[(((long)(start + i) * dims.KeyHeads) + kh) * dk + d];
                for (int m = 0; m < i; m++)
                {
                    acc += inverse[(i * C) + m] * bet[m] * XMath.Exp(gam[m]) * k[(((long)(start + m) * dims.KeyHeads) + kh) * dk + d];
                }

                w[((headRow + i) * dk) + d] = acc;
            }

            Group.Barrier();
        }
    }

    /// <summary>
    /// One (value head, 32-column Dv tile) unit per group, grid-stride; thread c owns column c of the tile: its
    /// slice of S (shared, <c>[Dk, 32]</c>) and of V' (shared, <c>[C, 32]</c>). Every step only reads the thread's own
    /// columns plus rows of q, k, w, Aqk that all threads read alike, so the whole sequential pass has no barrier.
    /// Output o <c>[T, Hv, Dv]</c>.
    /// </summary>
    public static void ChunkStatePass(ArrayView<int> batch, ArrayView<float> q, ArrayView<float> k, ArrayView<float> gamma, ArrayView<float> u,
        ArrayView<float> w, ArrayView<float> aqk, ArrayView<float> state, ArrayView<float> o, GatedDeltaKernelDims dims)
    {
        const int C = ChunkSize;
        var s = SharedMemory.Allocate<float>(MaxKeyDim * ValueTile);
        var vNew = SharedMemory.Allocate<float>(C * ValueTile);
        int hv = dims.ValueHeads, dk = dims.KeyDim, dvDim = dims.ValueDim;
        int tiles = (dvDim + ValueTile - 1) / ValueTile;
        int c = Group.IdxX;
        var layout = dims.Batch;
        for (int unit = Grid.IdxX; unit < layout.Sequences * hv * tiles; unit += Grid.DimX)
        {
            int sequence = unit / (hv * tiles), rest = unit % (hv * tiles);
            int h = rest / tiles, d = ((rest % tiles) * ValueTile) + c, kh = h / dims.Group;
            if (c >= ValueTile || d >= dvDim)
            {
                continue;
            }

            long stateColumn = ((((long)batch[layout.SlotIds + sequence] * hv) + h) * dk * dvDim) + d;
            for (int m = 0; m < dk; m++)
            {
                s[(m * ValueTile) + c] = state[stateColumn + ((long)m * dvDim)];
            }

            int first = batch[layout.CuSeqlens + sequence], end = batch[layout.CuSeqlens + sequence + 1];
            int firstChunk = batch[layout.ChunkOffsets + sequence];
            for (int start = first; start < end; start += C)
            {
                int n = XMath.Min(C, end - start);
                long headRow = ((long)h * dims.PaddedTokens) + ((firstChunk + ((start - first) / C)) * C);
                for (int i = 0; i < n; i++)
                {
                    long wRow = (headRow + i) * dk;
                    float acc = u[((headRow + i) * dvDim) + d];
                    for (int m = 0; m < dk; m++)
                    {
                        acc -= w[wRow + m] * s[(m * ValueTile) + c];
                    }

                    vNew[(i * ValueTile) + c] = acc;
                }

                for (int i = 0; i < n; i++)
                {
                    long qRow = (((long)(start + i) * dims.KeyHeads) + kh) * dk;
                    float inter = 0;
                    for (int m = 0; m < dk; m++)
                    {
                        inter += q[qRow + m] * s[(m * ValueTile) + c];
                    }

                    float acc = XMath.Exp(gamma[headRow + i]) * inter;
                    long aRow = (headRow + i) * C;
                    for (int j = 0; j <= i; j++)
                    {
                        acc += aqk[aRow + j] * vNew[(j * ValueTile) + c];
                    }

                    o[((((long)(start + i) * hv) + h) * dvDim) + d] = acc;
                }

                // Fold e^{γlast−γi} into V' so the state update is a plain rank-n product.
                float last = gamma[headRow + n - 1];
                for (int i = 0; i < n; i++)
                {
                    vNew[(i * ValueTile) + c] *= XMath.Exp(last - gamma[headRow + i]);
                }

                float decayAll = XMath.Exp(last);
                for (int m = 0; m < dk; m++)
                {
                    float acc = decayAll * s[(m * ValueTile) + c];
                    for (int i = 0; i < n; i++)
                    {
                        acc += k[((((long)(start + i) * dims.KeyHeads) + kh) * dk) + m] * vNew[(i * ValueTile) + c];
                    }

                    s[(m * ValueTile) + c] = acc;
                }
            }

            for (int m = 0; m < dk; m++)
            {
                state[stateColumn + ((long)m * dvDim)] = s[(m * ValueTile) + c];
            }
        }
    }
}
