// MoE routing for one token per block: p = softmax(logits) over all E
// experts (fp32), take the k largest p in descending order (ties: lower
// expert id first), renormalise w_j = p_j / sum_top p (norm_topk_prob).
// logits fp32 [T, E] (from matmul with the router weight [E, H]);
// selected int32 [T, k]; weights fp32 [T, k]. Block 256, dynamic smem E*4 B.
// k rounds of a block arg-max: k = 10 of E = 512 costs nothing next to the
// router GEMV, and the order matches torch.topk exactly. NaN ranks below every
// probability (key -1; a taken expert is -2, the empty candidate -3), so each
// round picks an untaken expert and every selected id is in [0, E).
#include "reduce.cuh"

#define ROUTER_MAX_K 32

extern "C" __global__ void __launch_bounds__(256)
moe_router_topk(int* __restrict__ selected, float* __restrict__ weights,
                const float* __restrict__ logits, int T, int E, int k) {
    extern __shared__ float sp[];
    __shared__ float bv[32];
    __shared__ int bi[32];
    __shared__ float topv[ROUTER_MAX_K];
    __shared__ int topi[ROUTER_MAX_K];
    int t = blockIdx.x;
    if (t >= T || k > ROUTER_MAX_K) return;
    const float* l = logits + (size_t)t * E;
    float mx = -INFINITY;
    for (int e = threadIdx.x; e < E; e += blockDim.x) mx = fmaxf(mx, l[e]);
    mx = block_max(mx);
    float sum = 0.0f;
    for (int e = threadIdx.x; e < E; e += blockDim.x) { float p = expf(l[e] - mx); sp[e] = p; sum += p; }
    sum = block_sum(sum);   // contains the barrier that publishes sp[]
    float inv = 1.0f / sum;
    for (int e = threadIdx.x; e < E; e += blockDim.x) sp[e] *= inv;
    __syncthreads();
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int j = 0; j < k; j++) {
        float best = -3.0f; int besti = 0x7fffffff;
        for (int e = threadIdx.x; e < E; e += blockDim.x) {
            float p = isnan(sp[e]) ? -1.0f : sp[e];
            if (p > best) { best = p; besti = e; }
        }
        #pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(0xffffffffu, best, o);
            int oi = __shfl_xor_sync(0xffffffffu, besti, o);
            if (ov > best || (ov == best && oi < besti)) { best = ov; besti = oi; }
        }
        if (lane == 0) { bv[warp] = best; bi[warp] = besti; }
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int w = 1; w < nw; w++)
                if (bv[w] > best || (bv[w] == best && bi[w] < besti)) { best = bv[w]; besti = bi[w]; }
            topv[j] = sp[besti]; topi[j] = besti;   // the probability itself (NaN stays NaN)
            sp[besti] = -2.0f;   // below any probability: excluded from later rounds
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        float s = 0.0f;
        for (int j = 0; j < k; j++) s += topv[j];
        for (int j = 0; j < k; j++) {
            selected[(size_t)t * k + j] = topi[j];
            weights[(size_t)t * k + j] = topv[j] / s;
        }
    }
}
