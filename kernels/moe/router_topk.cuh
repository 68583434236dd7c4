// Softmax top-k of one row of router logits, by one block (shared by
// moe_router_topk and the fused decode routing of decode_fused.cu).
// sp[E] (shared) holds the logits on entry and the probabilities after
// (each taken expert marked -2). p = softmax over all E in fp32, then k
// rounds of a block arg-max: descending probability, ties to the lower
// expert id, NaN ranks below every probability (key -1; a taken expert is
// -2, the empty candidate -3), so every selected id is in [0, E).
// topv/topi (shared, k entries) get the probabilities and ids. Every thread
// of the block must call it; blockDim.x is a multiple of 32.
#pragma once
#include "reduce.cuh"

#define ROUTER_MAX_K 32

__device__ __forceinline__ void router_softmax_topk(float* sp, int E, int k, float* topv, int* topi) {
    __shared__ float bv[32];
    __shared__ int bi[32];
    __syncthreads();   // sp[] was filled by the caller's threads
    float mx = -INFINITY;
    for (int e = threadIdx.x; e < E; e += blockDim.x) mx = fmaxf(mx, sp[e]);
    mx = block_max(mx);
    float sum = 0.0f;
    for (int e = threadIdx.x; e < E; e += blockDim.x) { float p = expf(sp[e] - mx); sp[e] = p; sum += p; }
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
}
