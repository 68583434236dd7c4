// Gated attention for a decode batch (one token per sequence, cu_seqlens =
// [0, 1, .., B]), split-KV per sequence (flash-decoding):
// attn_flash_decode: grid (num_splits, Hkv, B), block 256. Block (s, j, b)
//   scans cache indices [s*L, min((s+1)*L, kv_len)) of sequence b,
//   kv_len = context_lens[b], L = ceil(kv_len / num_splits), through b's
//   block table in 32-key tiles for all G = Hq/Hkv query heads of KV head j
//   (each K/V tile read once for the group), online softmax per head, and
//   writes the unnormalised partial o_part[b, h, s, :] with its max
//   m_part[b, h, s] and sum l_part[b, h, s] (empty split: m = -inf, l = 0).
// attn_decode_combine: grid (Hq, B), block 256: rescales the splits to the
//   global max, normalises, multiplies by sigmoid(gate) and writes y
//   (num_splits <= 1024).
// q fp32 [T, Hq, D] (normed + roped), qg fp32 [T, Hq, 2D] (gate = second
// half), token of sequence b = cu_seqlens[b]; pages fp32 [num_pages, Hkv,
// page_size, D] (the new token's K/V already written by attn_qk_norm_rope),
// o_part fp32 [B, Hq, num_splits, D], m_part/l_part fp32 [B, Hq, num_splits].
// attn_flash_decode_bf16 is the same kernel over bf16 pools (the fast precision's cache, raw bf16 bits): rows are
// widened to fp32 as they enter shared memory (8 per 16-byte load), so the math is the fp32 kernel's and only the
// cache reads halve.
// Limits: G*D <= 4096, G <= 64, D % 4 == 0 (bf16: D % 8 == 0).
// Dynamic smem (decode) = (G*(D+4) + 32*(D+4) + 32*D + G*32 + 3*G) * 4 bytes.
#include "bf16.cuh"
#include "reduce.cuh"
#include "varlen.cuh"

#define FD_BK 32
#define FD_MAXN 16

// One 16-byte load of cache elements widened to fp32: 4 fp32 or 8 bf16 (rows start 16-byte aligned: D % 4 == 0 for
// fp32, D % 8 == 0 for bf16), so the bf16 kernel moves a tile in half the loads.
template <typename KV> struct KvVec { static constexpr int N = 4; };
template <> struct KvVec<unsigned short> { static constexpr int N = 8; };
__device__ __forceinline__ void kv_load(const float* p, float* f) {
    float4 v = *reinterpret_cast<const float4*>(p);
    f[0] = v.x; f[1] = v.y; f[2] = v.z; f[3] = v.w;
}
__device__ __forceinline__ void kv_load(const unsigned short* p, float* f) {
    bf16x8_to_f32(*reinterpret_cast<const uint4*>(p), f);
}

template <typename KV>
__device__ __forceinline__ void flash_decode_impl(float* __restrict__ o_part, float* __restrict__ m_part, float* __restrict__ l_part,
                  const float* __restrict__ q, const KV* __restrict__ k_pages,
                  const KV* __restrict__ v_pages, const int* __restrict__ cu_seqlens,
                  const int* __restrict__ context_lens, const int* __restrict__ block_tables,
                  int Hq, int Hkv, int D, int page_size, int max_pages, float scale, float* smem, size_t* sRow) {
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, nt = blockDim.x;
    const int G = Hq / Hkv, j = blockIdx.y, split = blockIdx.x, S = gridDim.x, b = blockIdx.z;
    const int tok = cu_seqlens[b], kv_len = context_lens[b];
    const int L = (kv_len + S - 1) / S, k0 = split * L, k1 = min(k0 + L, kv_len);
    const int ld = D + 4;
    float* sQ = smem;                 // [G][D+4]
    float* sK = sQ + G * ld;          // [32][D+4]
    float* sV = sK + FD_BK * ld;      // [32][D]
    float* sP = sV + FD_BK * D;       // [G][32]
    float* sm = sP + G * FD_BK;
    float* sl = sm + G;
    float* sa = sl + G;
    for (int e = tid; e < G * D; e += nt) {
        int g = e / D, d = e % D;
        sQ[g * ld + d] = q[((size_t)tok * Hq + j * G + g) * D + d] * scale;
    }
    for (int g = tid; g < G; g += nt) { sm[g] = -INFINITY; sl[g] = 0.0f; }
    float O[FD_MAXN];
    #pragma unroll
    for (int n = 0; n < FD_MAXN; n++) O[n] = 0.0f;
    for (int kt = k0; kt < k1; kt += FD_BK) {
        __syncthreads();
        if (tid < FD_BK && kt + tid < k1) sRow[tid] = paged_row(block_tables, max_pages, b, kt + tid, page_size, Hkv, j, D);
        __syncthreads();
        constexpr int VW = KvVec<KV>::N;
        for (int e = tid; e < FD_BK * D / VW; e += nt) {
            int kr = (e * VW) / D, d = (e * VW) % D, kp = kt + kr;
            float ka[VW], va[VW];
            if (kp < k1) {
                kv_load(k_pages + sRow[kr] + d, ka);
                kv_load(v_pages + sRow[kr] + d, va);
            } else {
                #pragma unroll
                for (int i = 0; i < VW; i++) { ka[i] = 0.0f; va[i] = 0.0f; }
            }
            #pragma unroll
            for (int i = 0; i < VW; i += 4) {
                *reinterpret_cast<float4*>(&sK[kr * ld + d + i]) = make_float4(ka[i], ka[i + 1], ka[i + 2], ka[i + 3]);
                *reinterpret_cast<float4*>(&sV[kr * D + d + i]) = make_float4(va[i], va[i + 1], va[i + 2], va[i + 3]);
            }
        }
        __syncthreads();
        // scores: entry (g, c), warp-uniform g, lane = key
        for (int e = tid; e < G * FD_BK; e += nt) {
            int g = e / FD_BK, c = e % FD_BK;
            float s = 0.0f;
            const float4* qa = reinterpret_cast<const float4*>(&sQ[g * ld]);
            const float4* ka = reinterpret_cast<const float4*>(&sK[c * ld]);
            for (int d4 = 0; d4 < D / 4; d4++) {
                float4 a = qa[d4], b = ka[d4];
                s += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
            }
            sP[e] = (kt + c < k1) ? s : -INFINITY;
        }
        __syncthreads();
        // online softmax: one warp per head
        for (int g = warp; g < G; g += nt / 32) {
            float s = sP[g * FD_BK + lane];
            float m_old = sm[g];
            float m_new = fmaxf(m_old, warp_max(s));
            float m_use = m_new == -INFINITY ? 0.0f : m_new;
            float p = expf(s - m_use);
            float psum = warp_sum(p);
            sP[g * FD_BK + lane] = p;
            if (lane == 0) {
                float alpha = expf(m_old - m_use);
                sa[g] = alpha; sm[g] = m_new; sl[g] = sl[g] * alpha + psum;
            }
        }
        __syncthreads();
        #pragma unroll
        for (int n = 0; n < FD_MAXN; n++) {
            int e = tid + n * nt;
            if (e < G * D) {
                int g = e / D, d = e % D;
                float acc = O[n] * sa[g];
                #pragma unroll 8
                for (int c = 0; c < FD_BK; c++) acc += sP[g * FD_BK + c] * sV[c * D + d];
                O[n] = acc;
            }
        }
    }
    __syncthreads();
    #pragma unroll
    for (int n = 0; n < FD_MAXN; n++) {
        int e = tid + n * nt;
        if (e < G * D) {
            int g = e / D, d = e % D, h = j * G + g;
            o_part[(((size_t)b * Hq + h) * S + split) * D + d] = O[n];
        }
    }
    for (int g = tid; g < G; g += nt) {
        int h = j * G + g;
        m_part[((size_t)b * Hq + h) * S + split] = sm[g];
        l_part[((size_t)b * Hq + h) * S + split] = sl[g];
    }
}

#define FLASH_DECODE_ARGS(KV)                                                                                         \
    float* __restrict__ o_part, float* __restrict__ m_part, float* __restrict__ l_part, const float* __restrict__ q,   \
        const KV* __restrict__ k_pages, const KV* __restrict__ v_pages, const int* __restrict__ cu_seqlens,           \
        const int* __restrict__ context_lens, const int* __restrict__ block_tables, int Hq, int Hkv, int D,           \
        int page_size, int max_pages, float scale
#define FLASH_DECODE_CALL                                                                                             \
    flash_decode_impl(o_part, m_part, l_part, q, k_pages, v_pages, cu_seqlens, context_lens, block_tables, Hq, Hkv,   \
                      D, page_size, max_pages, scale, smem, sRow)

extern "C" __global__ void __launch_bounds__(256) attn_flash_decode(FLASH_DECODE_ARGS(float)) {
    extern __shared__ float smem[];
    __shared__ size_t sRow[FD_BK];     // element offset of each key row of the current tile (kv head j)
    FLASH_DECODE_CALL;
}

extern "C" __global__ void __launch_bounds__(256) attn_flash_decode_bf16(FLASH_DECODE_ARGS(unsigned short)) {
    extern __shared__ float smem[];
    __shared__ size_t sRow[FD_BK];
    FLASH_DECODE_CALL;
}

// The split weights exp(m_s - M) go to shared memory first, so the per-d sums are plain independent loads of
// o_part (no load-dependent branch per split); num_splits <= DECODE_MAX_SPLITS.
#define DECODE_MAX_SPLITS 1024
extern "C" __global__ void __launch_bounds__(256)
attn_decode_combine(float* __restrict__ y, const float* __restrict__ o_part,
                    const float* __restrict__ m_part, const float* __restrict__ l_part,
                    const float* __restrict__ qg, const int* __restrict__ cu_seqlens, int Hq, int D,
                    int num_splits) {
    __shared__ float sw[DECODE_MAX_SPLITS];
    int h = blockIdx.x, b = blockIdx.y;
    if (h >= Hq || num_splits > DECODE_MAX_SPLITS) return;
    size_t row = (size_t)b * Hq + h, tok = (size_t)cu_seqlens[b];
    float mloc = -INFINITY;
    for (int s = threadIdx.x; s < num_splits; s += blockDim.x) mloc = fmaxf(mloc, m_part[row * num_splits + s]);
    float M = block_max(mloc);
    float lloc = 0.0f;
    for (int s = threadIdx.x; s < num_splits; s += blockDim.x) {
        float m = m_part[row * num_splits + s];
        // An empty split (m = -inf) weighs 0.
        float w = m != -INFINITY ? expf(m - M) : 0.0f;
        sw[s] = w;
        if (w != 0.0f) lloc += w * l_part[row * num_splits + s];
    }
    float invL = 1.0f / block_sum(lloc);
    __syncthreads();
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float acc = 0.0f;
        const float* o = o_part + row * num_splits * D + d;
        // An empty split wrote o = 0 and weighs 0, so every split is summed without a branch (loads in flight together).
#pragma unroll 8
        for (int s = 0; s < num_splits; s++) acc += sw[s] * o[(size_t)s * D];
        y[(tok * Hq + h) * D + d] = acc * invL * sigmoid_f(qg[(tok * Hq + h) * 2 * D + D + d]);
    }
}
