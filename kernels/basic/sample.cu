// Token sampling on the device, so a decode step reads back one id per sequence instead of its logits.
// One CTA of 1024 threads per row of logits [T, V]. out[t] = the chosen id, or -(number of NaN/±Inf logits
// in row t) when there are any (the host raises the same error as its own logits check).
//
// temperature <= 0: greedy, the argmax with ties to the lowest id (argmax_rows).
// Otherwise the host sampler's rule (src/Qwen3Next.Runtime/Graph/TokenSampler.cs) over the C = min(top_k, V)
// highest logits, 1 <= top_k <= 256 (the launcher refuses others): the candidates sorted by (logit desc, id asc),
// p_i = exp((l_i - l_0) / temperature), the nucleus the shortest prefix whose mass reaches top_p of the
// candidates' total, then pick = u * mass walked down the nucleus. u in [0, 1) is the top 24 bits of
// splitmix64(seed ^ splitmix64(counters[t])), and counters[t] is incremented (one stream of draws per row).
//
// Candidates: a 4-pass radix select (8 bits a pass, counts in shared memory) finds the C-th largest key; each
// thread owns a contiguous chunk of ids, so a block scan places the larger keys and the lowest-id ties in order;
// a bitonic sort of 256 orders them.
#define SAMPLE_THREADS 1024
#define SAMPLE_MAX_K 256

__device__ __forceinline__ unsigned int sample_key(float x) {
    unsigned int b = __float_as_uint(x);
    if (x != x) return 0u;  // NaN sorts below everything
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

__device__ __forceinline__ unsigned long long splitmix64(unsigned long long z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Exclusive scan of v over the block; *total gets the sum. Uses scratch[32].
__device__ int block_exclusive_scan(int v, int* scratch, int* total) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int x = v;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        int y = __shfl_up_sync(0xffffffffu, x, o);
        if (lane >= o) x += y;
    }
    if (lane == 31) scratch[warp] = x;
    __syncthreads();
    if (warp == 0) {
        int w = lane < (blockDim.x >> 5) ? scratch[lane] : 0;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            int y = __shfl_up_sync(0xffffffffu, w, o);
            if (lane >= o) w += y;
        }
        scratch[lane] = w;  // inclusive sums of the warps
    }
    __syncthreads();
    int before = (warp > 0 ? scratch[warp - 1] : 0) + x - v;
    *total = scratch[(blockDim.x >> 5) - 1];
    __syncthreads();
    return before;
}

extern "C" __global__ void __launch_bounds__(SAMPLE_THREADS)
sample_rows(int* __restrict__ out, const float* __restrict__ logits, unsigned long long* __restrict__ counters,
            unsigned long long seed, int T, int V, float temperature, int top_k, float top_p) {
    __shared__ unsigned int hist[256];
    __shared__ int scratch[32];
    __shared__ unsigned int ckey[SAMPLE_MAX_K];
    __shared__ int cid[SAMPLE_MAX_K];
    __shared__ float sbest[32];
    __shared__ int sbi[32];
    __shared__ int nonfinite;
    __shared__ unsigned int sprefix;
    __shared__ int sremaining;
    int t = blockIdx.x;
    if (t >= T) return;
    const float* row = logits + (size_t)t * V;
    int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    if (tid == 0) nonfinite = 0;
    __syncthreads();

    int bad = 0;
    for (int j = tid; j < V; j += blockDim.x) {
        float v = row[j];
        bad += (v != v || v == INFINITY || v == -INFINITY) ? 1 : 0;
    }
    if (bad) atomicAdd(&nonfinite, bad);
    __syncthreads();
    if (nonfinite > 0) {
        if (tid == 0) out[t] = -nonfinite;
        return;
    }

    if (temperature <= 0.0f) {
        float best = -INFINITY; int bi = 0x7fffffff;
        for (int j = tid; j < V; j += blockDim.x) {
            float v = row[j];
            if (v > best) { best = v; bi = j; }
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(0xffffffffu, best, o);
            int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            if (ov > best || (ov == best && oi < bi)) { best = ov; bi = oi; }
        }
        if (lane == 0) { sbest[warp] = best; sbi[warp] = bi; }
        __syncthreads();
        if (warp == 0) {
            best = sbest[lane]; bi = sbi[lane];
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) {
                float ov = __shfl_xor_sync(0xffffffffu, best, o);
                int oi = __shfl_xor_sync(0xffffffffu, bi, o);
                if (ov > best || (ov == best && oi < bi)) { best = ov; bi = oi; }
            }
            if (lane == 0) out[t] = bi == 0x7fffffff ? 0 : bi;
        }
        return;
    }

    int C = top_k < V ? top_k : V;
    // Radix select: the C-th largest key is prefix; remaining of the keys equal to it are taken (lowest ids).
    if (tid == 0) { sprefix = 0u; sremaining = C; }
    unsigned int mask = 0u;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int b = tid; b < 256; b += blockDim.x) hist[b] = 0u;
        __syncthreads();
        unsigned int prefix = sprefix;
        for (int j = tid; j < V; j += blockDim.x) {
            unsigned int k = sample_key(row[j]);
            if ((k & mask) == prefix) atomicAdd(&hist[(k >> shift) & 255u], 1u);
        }
        __syncthreads();
        if (tid == 0) {
            int remaining = sremaining;
            int b = 255;
            for (; b > 0; b--) {
                int c = (int)hist[b];
                if (c >= remaining) break;
                remaining -= c;
            }
            sremaining = remaining;
            sprefix = prefix | ((unsigned int)b << shift);
        }
        mask |= 255u << shift;
        __syncthreads();
    }
    unsigned int kth = sprefix;
    int takeEqual = sremaining;

    // Compaction in id order: thread tid owns ids [lo, hi).
    int chunk = (V + blockDim.x - 1) / blockDim.x;
    int lo = tid * chunk, hi = min(V, lo + chunk);
    int ngt = 0, neq = 0;
    for (int j = lo; j < hi; j++) {
        unsigned int k = sample_key(row[j]);
        ngt += k > kth ? 1 : 0;
        neq += k == kth ? 1 : 0;
    }
    int totalGt, totalEq;
    int gtBase = block_exclusive_scan(ngt, scratch, &totalGt);
    int eqBase = block_exclusive_scan(neq, scratch, &totalEq);
    for (int i = tid; i < SAMPLE_MAX_K; i += blockDim.x) { ckey[i] = 0u; cid[i] = 0x7fffffff; }
    __syncthreads();
    for (int j = lo; j < hi; j++) {
        unsigned int k = sample_key(row[j]);
        if (k > kth) { ckey[gtBase] = k; cid[gtBase] = j; gtBase++; }
        else if (k == kth) {
            if (eqBase < takeEqual) { ckey[totalGt + eqBase] = k; cid[totalGt + eqBase] = j; }
            eqBase++;
        }
    }
    __syncthreads();

    // Bitonic sort of 256 by (key desc, id asc).
    for (int size = 2; size <= SAMPLE_MAX_K; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            if (tid < SAMPLE_MAX_K) {
                int partner = tid ^ stride;
                if (partner > tid) {
                    unsigned int ka = ckey[tid], kb = ckey[partner];
                    int ia = cid[tid], ib = cid[partner];
                    bool aFirst = ka > kb || (ka == kb && ia < ib);
                    bool descending = (tid & size) == 0;
                    if (descending != aFirst) {
                        ckey[tid] = kb; ckey[partner] = ka;
                        cid[tid] = ib; cid[partner] = ia;
                    }
                }
            }
            __syncthreads();
        }
    }

    if (tid == 0) {
        float top = row[cid[0]];
        float total = 0.0f;
        for (int i = 0; i < C; i++) total += __expf((row[cid[i]] - top) / temperature);
        float mass = 0.0f;
        int nucleus = 0;
        while (nucleus < C && (nucleus == 0 || mass < top_p * total)) {
            mass += __expf((row[cid[nucleus]] - top) / temperature);
            nucleus++;
        }
        unsigned long long draw = splitmix64(seed ^ splitmix64(counters[t]));
        counters[t] += 1ull;
        float u = (float)(unsigned int)(draw >> 40) * (1.0f / 16777216.0f);
        float pick = u * mass;
        int chosen = cid[nucleus - 1];
        for (int i = 0; i < nucleus; i++) {
            pick -= __expf((row[cid[i]] - top) / temperature);
            if (pick <= 0.0f) { chosen = cid[i]; break; }
        }
        out[t] = chosen;
    }
}
