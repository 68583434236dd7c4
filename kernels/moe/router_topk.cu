// MoE routing for one token per block: p = softmax(logits) over all E
// experts (fp32), take the k largest p in descending order (ties: lower
// expert id first), renormalise w_j = p_j / sum_top p (norm_topk_prob).
// logits fp32 [T, E] (from matmul with the router weight [E, H]);
// selected int32 [T, k]; weights fp32 [T, k]. Block 256, dynamic smem E*4 B.
// k rounds of a block arg-max (router_topk.cuh): k = 10 of E = 512 costs
// nothing next to the router GEMV, and the order matches torch.topk exactly.
#include "router_topk.cuh"

extern "C" __global__ void __launch_bounds__(256)
moe_router_topk(int* __restrict__ selected, float* __restrict__ weights,
                const float* __restrict__ logits, int T, int E, int k) {
    extern __shared__ float sp[];
    __shared__ float topv[ROUTER_MAX_K];
    __shared__ int topi[ROUTER_MAX_K];
    int t = blockIdx.x;
    if (t >= T || k > ROUTER_MAX_K) return;
    const float* l = logits + (size_t)t * E;
    for (int e = threadIdx.x; e < E; e += blockDim.x) sp[e] = l[e];
    router_softmax_topk(sp, E, k, topv, topi);
    if (threadIdx.x == 0) {
        float s = 0.0f;
        for (int j = 0; j < k; j++) s += topv[j];
        for (int j = 0; j < k; j++) {
            selected[(size_t)t * k + j] = topi[j];
            weights[(size_t)t * k + j] = topv[j] / s;
        }
    }
}
