// Group the T*k (token, expert) pairs by expert, on the device, so the
// grouped expert GEMM needs no host round trip:
//   counts per expert -> exclusive prefix sum offsets[E+1] ->
//   scatter: row pos in [offsets[e], offsets[e+1]) holds pair p = t*k + j
//   with selected[p] = e; row_token[pos] = t, row_of_pair[p] = pos.
// Also the tile list for the grouped GEMM (tile_rows rows per tile, never
// crossing experts: 64 for the exact mma kernels, 128 for the fast wgmma
// ones): tile_expert[i], tile_row[i] (first row), num_tiles[0].
// max_tiles = E + ceil(T*k/tile_rows) bounds the tile count; the exact GEMMs
// launch that many blocks and the surplus exit at once.
// Order inside one expert depends on atomics, but every row is computed
// independently and moe_unpermute sums each token's k rows in j order, so
// results are deterministic. One block of 1024 threads, dynamic smem 2*E*4 B.
extern "C" __global__ void __launch_bounds__(1024)
moe_permute(int* __restrict__ offsets, int* __restrict__ row_token, int* __restrict__ row_of_pair,
            int* __restrict__ tile_expert, int* __restrict__ tile_row, int* __restrict__ num_tiles,
            const int* __restrict__ selected, int T, int k, int E, int tile_rows) {
    extern __shared__ int sm[];
    int* cnt = sm;          // [E] counts, then running cursor
    int* off = sm + E;      // [E] exclusive offsets
    int n = T * k;
    for (int e = threadIdx.x; e < E; e += blockDim.x) cnt[e] = 0;
    __syncthreads();
    for (int p = threadIdx.x; p < n; p += blockDim.x) atomicAdd(&cnt[selected[p]], 1);
    __syncthreads();
    if (threadIdx.x == 0) {
        int acc = 0, tiles = 0;
        for (int e = 0; e < E; e++) {
            off[e] = acc; offsets[e] = acc;
            for (int r = 0; r < cnt[e]; r += tile_rows) { tile_expert[tiles] = e; tile_row[tiles] = acc + r; tiles++; }
            acc += cnt[e];
            cnt[e] = 0;
        }
        offsets[E] = acc;
        num_tiles[0] = tiles;
    }
    __syncthreads();
    for (int p = threadIdx.x; p < n; p += blockDim.x) {
        int e = selected[p];
        int pos = off[e] + atomicAdd(&cnt[e], 1);
        row_token[pos] = p / k;
        row_of_pair[p] = pos;
    }
}
