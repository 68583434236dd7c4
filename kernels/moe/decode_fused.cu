// The MoE block for decode (T <= 8 tokens) in three kernels:
//   1. moe_decode_route: every GEMV that reads x once per row of weights —
//      router logits [T,E], the next layer's router (prediction, optional)
//      and the shared-expert gate — one warp per weight row over all CTAs;
//      then the last CTA to finish (atomic ticket, fences) runs softmax
//      top-k, the expert-cache lookup and replacement, the prediction of the
//      next layer's experts and its prefetch jobs, and writes the pair table.
//   2. moe_decode_gate_up: h = silu(x.Wg)*(x.Wu) for the T*k routed pairs and
//      for the shared expert of each token. A routed expert that missed the
//      cache is read straight from mapped host memory and written into its
//      new slot as it is read (the pair table's fill pointers).
//   3. moe_decode_down_combine: y[t,n] (+)= sum_j w_tj * (Wd_j[n].h_tj)
//        + sigmoid(x.Wsg) * (Wsd[n].hs_t), one warp per (token, feature):
//      the down projections, the combine and the residual add.
// The pair table pair_w [T*k][4] (u64 addresses) is how kernels 2 and 3 find
// an expert's weights (kernels/README.md, "pointer tables"): gate_up source
// [2I,H], down source [H,I], and the slot to fill with each (0 = none).
// Every dot product uses moe_warp_dot (one weight row per warp, 128-bit
// loads, fixed order), so where an expert's bytes come from (resident, a
// cache slot, or mapped host memory) cannot change a single bit of y.
#include "bf16.cuh"
#include "reduce.cuh"
#include "router_topk.cuh"
#include "expert_cache.cuh"

#define DECODE_MAX_T 8
#define DECODE_MAX_PAIRS (DECODE_MAX_T * ROUTER_MAX_K)

// fill[c..c+8) = the 8 bf16 of raw (a cache fill as the row is read).
__device__ __forceinline__ void fill8(unsigned short* fill, int c, uint4 raw) {
    if ((((size_t)fill) & 15) == 0) {
        *reinterpret_cast<uint4*>(fill + c) = raw;
        return;
    }
    unsigned int words[4] = {raw.x, raw.y, raw.z, raw.w};
    #pragma unroll
    for (int q = 0; q < 4; q++) {
        fill[c + 2 * q] = (unsigned short)(words[q] & 0xffffu);
        fill[c + 2 * q + 1] = (unsigned short)(words[q] >> 16);
    }
}

// N dots at once, by a whole warp: d[q] = w[q] (bf16 row) . x[q] (fp32 row), n
// elements each, q < count (<= N). The loads of all N rows are issued together,
// so the warp waits for memory once per 256 elements, not once per dot. When
// fill[q] is not null the warp also stores the row it read there (a cache
// fill). Each dot is summed in the same order whatever N, count or fill are
// (per lane in steps of 256 elements, then the warp tree), so where an expert's
// bytes come from cannot change a bit of the result.
template <int N>
__device__ __forceinline__ void moe_warp_dots(const unsigned short* const* w, const float* const* x, unsigned short* const* fill,
                                              int count, int n, float* d) {
    int lane = threadIdx.x & 31;
    float acc[N];
    bool vec = (n & 7) == 0;
    #pragma unroll
    for (int q = 0; q < N; q++) {
        acc[q] = 0.0f;
        if (q < count) vec = vec && ((((size_t)w[q]) & 15) == 0) && ((((size_t)x[q]) & 15) == 0);
    }
    if (vec) {
        for (int c = lane * 8; c < n; c += 256) {
            uint4 raw[N];
            #pragma unroll
            for (int q = 0; q < N; q++)
                if (q < count) raw[q] = *reinterpret_cast<const uint4*>(w[q] + c);
            #pragma unroll
            for (int q = 0; q < N; q++) {
                if (q >= count) continue;
                if (fill[q]) fill8(fill[q], c, raw[q]);
                float wf[8];
                bf16x8_to_f32(raw[q], wf);
                float4 a = __ldg(reinterpret_cast<const float4*>(x[q] + c));
                float4 b = __ldg(reinterpret_cast<const float4*>(x[q] + c + 4));
                acc[q] += wf[0] * a.x + wf[1] * a.y + wf[2] * a.z + wf[3] * a.w
                        + wf[4] * b.x + wf[5] * b.y + wf[6] * b.z + wf[7] * b.w;
            }
        }
    } else {
        for (int c = lane; c < n; c += 32) {
            #pragma unroll
            for (int q = 0; q < N; q++) {
                if (q >= count) continue;
                unsigned short b = w[q][c];
                if (fill[q]) fill[q][c] = b;
                acc[q] += bf16_to_f32(b) * __ldg(x[q] + c);
            }
        }
    }
    #pragma unroll
    for (int q = 0; q < N; q++) d[q] = warp_sum(acc[q]);
}

// One dot (the routing GEMV rows).
__device__ __forceinline__ float moe_warp_dot(const unsigned short* w, const float* x, int n) {
    const unsigned short* ws[1] = {w};
    const float* xs[1] = {x};
    unsigned short* fs[1] = {nullptr};
    float d[1];
    moe_warp_dots<1>(ws, xs, fs, 1, n, d);
    return d[0];
}

__device__ __forceinline__ void store_strong(float* p, float v) { *(volatile float*)p = v; }
__device__ __forceinline__ float load_strong(const float* p) { return *(const volatile float*)p; }

// grid ceil(R/8), block 256, dyn smem 4*E. R = E (router) + E (next router,
// when next_router_w != NULL) + 1 (shared-expert gate); proj [T, R] gets the
// raw projections. cache == NULL: resident experts at gate_up_base/down_base
// ([E,2I,H] / [E,H,I]); else the cache decides, prefetch jobs go to job set
// job_set, and layer is the cache's layer index. ticket: one int, zero before
// the first launch; the last CTA puts it back to zero.
extern "C" __global__ void __launch_bounds__(256)
moe_decode_route(float* __restrict__ proj, int* __restrict__ selected, float* __restrict__ weights,
                 unsigned long long* __restrict__ pair_w, unsigned int* __restrict__ ticket,
                 const float* __restrict__ x, const unsigned short* __restrict__ router_w,
                 const unsigned short* __restrict__ next_router_w,
                 const unsigned short* __restrict__ shared_expert_gate_w,
                 const unsigned short* gate_up_base, const unsigned short* down_base,
                 const ExpertCache* cache, int job_set, int layer, int T, int E, int k, int H, int I) {
    extern __shared__ float sp[];
    __shared__ float topv[ROUTER_MAX_K];
    __shared__ int topi[ROUTER_MAX_K];
    __shared__ int sel[DECODE_MAX_PAIRS];      // selected experts, pair order
    __shared__ int ids[DECODE_MAX_PAIRS];      // distinct experts, first-use order
    __shared__ int pair_of[DECODE_MAX_PAIRS];  // pair -> index in ids
    __shared__ int first[DECODE_MAX_PAIRS];    // index in ids -> first pair
    __shared__ int slot[DECODE_MAX_PAIRS], miss[DECODE_MAX_PAIRS], order[DECODE_MAX_PAIRS], victim[DECODE_MAX_PAIRS];
    __shared__ int counters[8];                // hits, misses, evictions | prefetch: -, misses, evictions | -
    __shared__ int n_ids, n_pred, is_last;
    __shared__ unsigned step;

    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int n_next = next_router_w ? E : 0, R = E + n_next + 1;
    int r = blockIdx.x * 8 + warp;
    if (r < R) {
        const unsigned short* w = r < E ? router_w + (size_t)r * H
            : r < E + n_next ? next_router_w + (size_t)(r - E) * H : shared_expert_gate_w;
        for (int t = 0; t < T; t++) {
            float d = moe_warp_dot(w, x + (size_t)t * H, H);
            if (lane == 0) store_strong(proj + (size_t)t * R + r, d);
        }
    }
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) is_last = atomicAdd(ticket, 1u) == gridDim.x - 1;
    __syncthreads();
    if (!is_last) return;
    __threadfence();

    int P = T * k;
    for (int t = 0; t < T; t++) {
        for (int e = threadIdx.x; e < E; e += blockDim.x) sp[e] = load_strong(proj + (size_t)t * R + e);
        router_softmax_topk(sp, E, k, topv, topi);
        if (threadIdx.x == 0) {
            float s = 0.0f;
            for (int j = 0; j < k; j++) s += topv[j];
            for (int j = 0; j < k; j++) {
                selected[t * k + j] = topi[j];
                weights[t * k + j] = topv[j] / s;
                sel[t * k + j] = topi[j];
            }
        }
        __syncthreads();
    }

    size_t gu = 2 * (size_t)I * H, dn = (size_t)H * I;
    if (cache == nullptr) {
        for (int p = threadIdx.x; p < P; p += blockDim.x) {
            int e = sel[p];
            pair_w[4 * p + 0] = (unsigned long long)(gate_up_base + (size_t)e * gu);
            pair_w[4 * p + 1] = (unsigned long long)(down_base + (size_t)e * dn);
            pair_w[4 * p + 2] = 0;
            pair_w[4 * p + 3] = 0;
        }
    } else {
        const ExpertCache* c = cache;
        if (threadIdx.x == 0) {
            step = c->control[1] + 1u;
            c->control[1] = step;
            int n = 0;
            for (int p = 0; p < P; p++) {
                int i = 0;
                while (i < n && ids[i] != sel[p]) i++;
                if (i == n) { ids[n] = sel[p]; first[n] = p; n++; }
                pair_of[p] = i;
            }
            n_ids = n;
            for (int q = 0; q < 8; q++) counters[q] = 0;
            // How many of this layer's experts the previous layer predicted.
            int pc = c->predicted_count[layer];
            if (pc > 0) {
                int hit = 0;
                for (int i = 0; i < n; i++)
                    for (int q = 0; q < pc; q++)
                        if (c->predicted[(size_t)layer * E + q] == ids[i]) { hit++; break; }
                c->stats[CACHE_STAT_PREDICTED_HITS] += hit;
                c->stats[CACHE_STAT_PREDICTED_LOOKUPS] += n;
                c->predicted_count[layer] = 0;
            }
        }
        for (int p = threadIdx.x; p < P; p += blockDim.x) atomicAdd(&c->use_count[(size_t)layer * E + sel[p]], 1u);
        __syncthreads();
        cache_acquire_block(c, layer, ids, n_ids, slot, miss, order, victim, step, true, counters);

        int mapped = 0;
        for (int p = threadIdx.x; p < P; p += blockDim.x) {
            int i = pair_of[p], e = sel[p], s = slot[i];
            bool from_host = miss[i] || s < 0;
            const unsigned short* src_gu = from_host ? cache_host_gate_up(c, layer, e) : c->pool_gate_up + (size_t)s * gu;
            const unsigned short* src_dn = from_host ? cache_host_down(c, layer, e) : c->pool_down + (size_t)s * dn;
            bool fill = from_host && s >= 0 && first[i] == p;
            pair_w[4 * p + 0] = (unsigned long long)src_gu;
            pair_w[4 * p + 1] = (unsigned long long)src_dn;
            pair_w[4 * p + 2] = fill ? (unsigned long long)(c->pool_gate_up + (size_t)s * gu) : 0ull;
            pair_w[4 * p + 3] = fill ? (unsigned long long)(c->pool_down + (size_t)s * dn) : 0ull;
            mapped += from_host;
        }
        if (mapped) atomicAdd(&c->stats[CACHE_STAT_MAPPED_BYTES], (unsigned long long)mapped * 2ull * (gu + dn));

        // Predict the next layer's experts from this layer's input and copy the missing ones ahead.
        if (next_router_w != nullptr && layer + 1 < (int)c->layers) {
            if (threadIdx.x == 0) n_pred = 0;
            __syncthreads();
            for (int t = 0; t < T; t++) {
                for (int e = threadIdx.x; e < E; e += blockDim.x) sp[e] = load_strong(proj + (size_t)t * R + E + e);
                router_softmax_topk(sp, E, k, topv, topi);
                if (threadIdx.x == 0) {
                    for (int j = 0; j < k; j++) {
                        int i = 0;
                        while (i < n_pred && ids[i] != topi[j]) i++;
                        if (i == n_pred) ids[n_pred++] = topi[j];
                    }
                }
                __syncthreads();
            }
            cache_acquire_block(c, layer + 1, ids, n_pred, slot, miss, order, victim, step, false, counters + 4);
            int nl = layer + 1;
            unsigned long long* jobs = c->jobs + (size_t)job_set * E * 4;
            if (threadIdx.x == 0) {
                int jn = 0;
                for (int i = 0; i < n_pred; i++) {
                    c->predicted[(size_t)nl * E + i] = ids[i];
                    if (miss[i] && slot[i] >= 0) {
                        int e = ids[i], s = slot[i];
                        jobs[4 * jn + 0] = (unsigned long long)cache_host_gate_up(c, nl, e);
                        jobs[4 * jn + 1] = (unsigned long long)(c->pool_gate_up + (size_t)s * gu);
                        jobs[4 * jn + 2] = (unsigned long long)cache_host_down(c, nl, e);
                        jobs[4 * jn + 3] = (unsigned long long)(c->pool_down + (size_t)s * dn);
                        jn++;
                    }
                }
                c->predicted_count[nl] = n_pred;
                c->job_count[job_set] = jn;
                c->stats[CACHE_STAT_PREFETCHES] += jn;
                c->stats[CACHE_STAT_COPIED_BYTES] += (unsigned long long)jn * 2ull * (gu + dn);
            }
        } else if (threadIdx.x == 0) {
            c->job_count[job_set] = 0;
        }
        if (threadIdx.x == 0) {
            c->stats[CACHE_STAT_HITS] += counters[0];
            c->stats[CACHE_STAT_MISSES] += counters[1];
            c->stats[CACHE_STAT_EVICTIONS] += counters[2] + counters[6];
        }
    }
    if (threadIdx.x == 0) atomicExch(ticket, 0u);
}

// grid (ceil(max(I, Is)/8), T*k + T), block 256: warp = one intermediate row
// i of a routed pair (blockIdx.y < T*k) or of token t's shared expert.
// hbuf [T*k, I] in pair order, hshared [T, Is].
extern "C" __global__ void __launch_bounds__(256, 6)
moe_decode_gate_up(float* __restrict__ hbuf, float* __restrict__ hshared, const float* __restrict__ x,
                   const unsigned long long* __restrict__ pair_w, const unsigned short* __restrict__ shared_gate_w,
                   const unsigned short* __restrict__ shared_up_w, int T, int k, int H, int I, int Is) {
    int y = blockIdx.y, i = blockIdx.x * 8 + (threadIdx.x >> 5), P = T * k;
    const unsigned short* w[2];
    unsigned short* fill[2] = {nullptr, nullptr};
    const float* xr;
    float* out;
    if (y < P) {
        if (i >= I) return;
        const unsigned short* gu = (const unsigned short*)pair_w[4 * y + 0];
        unsigned short* f = (unsigned short*)pair_w[4 * y + 2];
        w[0] = gu + (size_t)i * H;
        w[1] = gu + (size_t)(I + i) * H;
        if (f) { fill[0] = f + (size_t)i * H; fill[1] = f + (size_t)(I + i) * H; }
        xr = x + (size_t)(y / k) * H;
        out = hbuf + (size_t)y * I + i;
    } else {
        int t = y - P;
        if (t >= T || i >= Is) return;
        w[0] = shared_gate_w + (size_t)i * H;
        w[1] = shared_up_w + (size_t)i * H;
        xr = x + (size_t)t * H;
        out = hshared + (size_t)t * Is + i;
    }
    const float* xs[2] = {xr, xr};
    float gu[2];
    moe_warp_dots<2>(w, xs, fill, 2, H, gu);
    if ((threadIdx.x & 31) == 0) *out = silu_f(gu[0]) * gu[1];
}

// grid (ceil(H/8), T), block 256: warp = output feature n of token t.
// sgate: the shared-expert gate logit of token t at sgate[t * ld_sgate].
// The k routed terms are summed in rank order, then the shared term, as
// moe_unpermute does. accumulate != 0 adds into y (the residual).
extern "C" __global__ void __launch_bounds__(256)
moe_decode_down_combine(float* __restrict__ y, const float* __restrict__ hbuf, const float* __restrict__ hshared,
                        const unsigned long long* __restrict__ pair_w, const float* __restrict__ weights,
                        const float* __restrict__ sgate, int ld_sgate, const unsigned short* __restrict__ shared_down_w,
                        int T, int k, int H, int I, int Is, int accumulate) {
    __shared__ unsigned long long src[ROUTER_MAX_K], dst[ROUTER_MAX_K];
    int t = blockIdx.y, n = blockIdx.x * 8 + (threadIdx.x >> 5);
    if (t >= T) return;
    for (int j = threadIdx.x; j < k; j += blockDim.x) {
        src[j] = pair_w[4 * (t * k + j) + 1];
        dst[j] = pair_w[4 * (t * k + j) + 3];
    }
    __syncthreads();
    if (n >= H) return;
    // The routed rows four at a time (their loads in flight together), summed in rank order.
    float acc = 0.0f;
    for (int j0 = 0; j0 < k; j0 += 4) {
        const unsigned short* w[4];
        const float* xs[4];
        unsigned short* fill[4];
        #pragma unroll
        for (int q = 0; q < 4; q++) {
            int j = j0 + q < k ? j0 + q : k - 1;
            w[q] = (const unsigned short*)src[j] + (size_t)n * I;
            xs[q] = hbuf + (size_t)(t * k + j) * I;
            fill[q] = dst[j] && j0 + q < k ? (unsigned short*)dst[j] + (size_t)n * I : nullptr;
        }
        float d[4];
        int count = k - j0 < 4 ? k - j0 : 4;
        moe_warp_dots<4>(w, xs, fill, count, I, d);
        for (int q = 0; q < count; q++) acc += weights[t * k + j0 + q] * d[q];
    }
    float ds = moe_warp_dot(shared_down_w + (size_t)n * Is, hshared + (size_t)t * Is, Is);
    acc += sigmoid_f(sgate[(size_t)t * ld_sgate]) * ds;
    if ((threadIdx.x & 31) == 0) {
        float* dst_y = y + (size_t)t * H + n;
        *dst_y = accumulate ? *dst_y + acc : acc;
    }
}
