// out[t] = argmax_j x[t, j] (greedy sampling over logits), one block per row.
// Ties go to the lowest index, like torch.argmax on CPU. NaN is ignored.
extern "C" __global__ void __launch_bounds__(256)
argmax_rows(int* __restrict__ out, const float* __restrict__ x, int T, int n) {
    __shared__ float sv[32];
    __shared__ int si[32];
    if (blockIdx.x >= T) return;
    const float* row = x + (size_t)blockIdx.x * n;
    float best = -INFINITY; int bi = 0x7fffffff;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float v = row[j];
        if (v > best) { best = v; bi = j; }   // strictly greater: keeps the first
    }
    #pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, best, o);
        int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (ov > best || (ov == best && oi < bi)) { best = ov; bi = oi; }
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) { sv[warp] = best; si[warp] = bi; }
    __syncthreads();
    if (warp == 0) {
        int nw = blockDim.x >> 5;
        best = lane < nw ? sv[lane] : -INFINITY;
        bi = lane < nw ? si[lane] : 0x7fffffff;
        #pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(0xffffffffu, best, o);
            int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            if (ov > best || (ov == best && oi < bi)) { best = ov; bi = oi; }
        }
        if (lane == 0) out[blockIdx.x] = (bi == 0x7fffffff) ? 0 : bi;
    }
}
