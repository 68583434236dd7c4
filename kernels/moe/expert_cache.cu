// Expert-cache kernels besides the fused decode routing (expert_cache.cuh):
//   moe_cache_acquire: prefill — makes every distinct expert of selected
//     [T,k] resident in one layer, writes expert_to_slot [E] for the grouped
//     GEMMs and the copy jobs of the misses.
//   moe_expert_copy: copies experts from mapped host memory into slots, one
//     job per blockIdx.y (prefill misses on the compute stream; decode
//     prefetches on the copy stream, overlapping the layer that predicted them).
#include "expert_cache.cuh"

// grid 1, block 1024, dyn smem 6*4*E. Jobs go to job set job_set (count in
// cache->job_count[job_set]); expert_to_slot is written for the selected experts only.
extern "C" __global__ void __launch_bounds__(1024)
moe_cache_acquire(int* __restrict__ expert_to_slot, const int* __restrict__ selected, const ExpertCache* cache,
                  int job_set, int layer, int T, int k) {
    extern __shared__ int sm[];
    __shared__ int counters[4];
    __shared__ int n_ids;
    __shared__ unsigned step;
    const ExpertCache* c = cache;
    int E = (int)c->experts, P = T * k;
    int* flag = sm;
    int* ids = sm + E;
    int* slot = sm + 2 * E;
    int* miss = sm + 3 * E;
    int* order = sm + 4 * E;
    int* victim = sm + 5 * E;
    for (int e = threadIdx.x; e < E; e += blockDim.x) flag[e] = 0;
    if (threadIdx.x == 0) {
        step = c->control[1] + 1u;
        c->control[1] = step;
        counters[0] = counters[1] = counters[2] = counters[3] = 0;
        c->predicted_count[layer] = 0;   // a decode prediction does not carry over a prefill
    }
    __syncthreads();
    for (int p = threadIdx.x; p < P; p += blockDim.x) {
        int e = selected[p];
        atomicExch(&flag[e], 1);
        atomicAdd(&c->use_count[(size_t)layer * E + e], 1u);
    }
    __syncthreads();
    // Distinct experts in ascending id order (deterministic), by warp 0.
    if (threadIdx.x < 32) {
        int lane = threadIdx.x, n = 0;
        for (int base = 0; base < E; base += 32) {
            int e = base + lane;
            bool on = e < E && flag[e];
            unsigned b = __ballot_sync(0xffffffffu, on);
            if (on) ids[n + __popc(b & ((1u << lane) - 1u))] = e;
            n += __popc(b);
        }
        if (lane == 0) n_ids = n;
    }
    __syncthreads();
    cache_acquire_block(c, layer, ids, n_ids, slot, miss, order, victim, step, true, counters);
    size_t gu = (size_t)c->gate_up_elems, dn = (size_t)c->down_elems;
    unsigned long long* jobs = c->jobs + (size_t)job_set * E * 4;
    for (int i = threadIdx.x; i < n_ids; i += blockDim.x) expert_to_slot[ids[i]] = slot[i];
    if (threadIdx.x == 0) {
        int jn = 0;
        for (int i = 0; i < n_ids; i++) {
            if (!miss[i] || slot[i] < 0) continue;
            int e = ids[i], s = slot[i];
            jobs[4 * jn + 0] = (unsigned long long)cache_host_gate_up(c, layer, e);
            jobs[4 * jn + 1] = (unsigned long long)(c->pool_gate_up + (size_t)s * gu);
            jobs[4 * jn + 2] = (unsigned long long)cache_host_down(c, layer, e);
            jobs[4 * jn + 3] = (unsigned long long)(c->pool_down + (size_t)s * dn);
            jn++;
        }
        c->job_count[job_set] = jn;
        c->stats[CACHE_STAT_HITS] += counters[0];
        c->stats[CACHE_STAT_MISSES] += counters[1];
        c->stats[CACHE_STAT_EVICTIONS] += counters[2];
        c->stats[CACHE_STAT_COPIED_BYTES] += (unsigned long long)jn * 2ull * (gu + dn);
    }
}

__device__ __forceinline__ void copy_bf16(unsigned short* dst, const unsigned short* src, long long n) {
    size_t start = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (size_t)gridDim.x * blockDim.x;
    if ((n & 7) == 0 && (((size_t)dst | (size_t)src) & 15) == 0) {
        const uint4* s = reinterpret_cast<const uint4*>(src);
        uint4* d = reinterpret_cast<uint4*>(dst);
        for (size_t q = start; q < (size_t)n / 8; q += stride) d[q] = s[q];
    } else {
        for (size_t q = start; q < (size_t)n; q += stride) dst[q] = src[q];
    }
}

// grid (any, max_jobs), block 256: job j = blockIdx.y (if j < *job_count)
// copies gate_up_elems from jobs[4j] to jobs[4j+1] and down_elems from
// jobs[4j+2] to jobs[4j+3]; the CTAs of one job split the bytes.
extern "C" __global__ void __launch_bounds__(256)
moe_expert_copy(const unsigned long long* __restrict__ jobs, const int* __restrict__ job_count,
                long long gate_up_elems, long long down_elems) {
    int j = blockIdx.y;
    if (j >= *job_count) return;
    copy_bf16((unsigned short*)jobs[4 * j + 1], (const unsigned short*)jobs[4 * j + 0], gate_up_elems);
    copy_bf16((unsigned short*)jobs[4 * j + 3], (const unsigned short*)jobs[4 * j + 2], down_elems);
}
