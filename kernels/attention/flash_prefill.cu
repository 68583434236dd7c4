// Causal gated attention for prefill (and multi-token continuation), tiled
// with an online softmax; fp32 CUDA cores (see docs/cuda-kernels.md for why
// the mma path is not used yet).
// One block = one KV head j and 64 query rows = BQ = 64/G tokens x all G =
// Hq/Hkv query heads of that GQA group, so every K/V tile read from the cache
// serves all heads sharing it. Row r -> token t0 + r/G, head j*G + r%G.
// Per 16-key tile: scores (warp w owns rows 8w..8w+7; lane: key lane&15,
// rows +lane>>4 +2i), row max/sum by half-warp shuffles, P to shared, then
// O[8 rows][D/32 per lane] += P V in registers. Epilogue: O / l * sigmoid(gate).
// Packed variable-length batch (varlen.cuh): block (x, j, b) takes query rows
// of tokens x*BQ .. of sequence b only (tiles never cross a sequence; blocks
// past the sequence's end exit), so attention is causal within each sequence.
// Local token i of sequence b has cache index c0 + i, c0 = ctx[b] - len(b),
// and sees cache indices 0 .. c0 + i of its sequence, read through its block
// table: per 16-key tile the 16 row offsets are looked up once into shared.
// q fp32 [T, Hq, D] (normed + roped, from attn_qk_norm_rope), qg fp32
// [T, Hq, 2D] (gate = second half), pages fp32 [num_pages, Hkv, page_size, D]
// (this step's keys already appended), y fp32 [T, Hq*D]. scale = D^-0.5.
// Limits: D in {64, 128, 256} (D % 32 == 0, D <= 256 via the generic
// switch), G divides 64.
// Grid (ceil(max_len / (64/G)), Hkv, B), block 256,
// dynamic smem = (64*(D+4) + 16*(D+4) + 16*D + 64*16 + 3*64) * 4 bytes.
#include "bf16.cuh"
#include "varlen.cuh"

#define FP_ROWS 64
#define FP_BK 16

template <int ND>
__device__ __forceinline__ void flash_prefill_impl(float* __restrict__ y, const float* __restrict__ q,
        const float* __restrict__ qg, const float* __restrict__ k_pages, const float* __restrict__ v_pages,
        const int* __restrict__ cu_seqlens, const int* __restrict__ context_lens, const int* __restrict__ block_tables,
        int Hq, int Hkv, int D, int page_size, int max_pages, float scale) {
    extern __shared__ float smem[];
    __shared__ size_t sRow[FP_BK];          // element offset of each key row of the current tile (kv head j)
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int G = Hq / Hkv, BQ = FP_ROWS / G, j = blockIdx.y, b = blockIdx.z, t0 = blockIdx.x * BQ;
    const int seq0 = cu_seqlens[b], T = cu_seqlens[b + 1] - seq0, c0 = context_lens[b] - T;
    if (t0 >= T) return;                    // the whole block: this sequence has no tokens here
    const int ldq = D + 4;
    float* sQ = smem;                       // [64][D+4]
    float* sK = sQ + FP_ROWS * ldq;         // [16][D+4]
    float* sV = sK + FP_BK * ldq;           // [16][D]
    float* sP = sV + FP_BK * D;             // [64][16]
    float* sm = sP + FP_ROWS * FP_BK;       // running max
    float* sl = sm + FP_ROWS;               // running sum
    float* sa = sl + FP_ROWS;               // rescale factor of the current tile

    for (int e = tid; e < FP_ROWS * D; e += blockDim.x) {
        int r = e / D, d = e % D, tok = t0 + r / G, h = j * G + r % G;
        sQ[r * ldq + d] = tok < T ? q[((size_t)(seq0 + tok) * Hq + h) * D + d] * scale : 0.0f;
    }
    if (tid < FP_ROWS) { sm[tid] = -INFINITY; sl[tid] = 0.0f; }
    float O[8][ND];
    #pragma unroll
    for (int rr = 0; rr < 8; rr++)
        #pragma unroll
        for (int n = 0; n < ND; n++) O[rr][n] = 0.0f;

    int last_tok = min(t0 + BQ, T) - 1;
    int kv_end = c0 + last_tok + 1;          // keys this block may need
    const int c = lane & 15, rs = lane >> 4;
    for (int kt = 0; kt < kv_end; kt += FP_BK) {
        __syncthreads();   // previous tile fully consumed (and sQ/sm ready on the first pass)
        if (tid < FP_BK && kt + tid < kv_end)
            sRow[tid] = paged_row(block_tables, max_pages, b, kt + tid, page_size, Hkv, j, D);
        __syncthreads();
        for (int e = tid; e < FP_BK * D / 4; e += blockDim.x) {
            int kr = (e * 4) / D, d = (e * 4) % D, kp = kt + kr;
            float4 kv4 = make_float4(0.f, 0.f, 0.f, 0.f), vv4 = kv4;
            if (kp < kv_end) {
                kv4 = *reinterpret_cast<const float4*>(k_pages + sRow[kr] + d);
                vv4 = *reinterpret_cast<const float4*>(v_pages + sRow[kr] + d);
            }
            *reinterpret_cast<float4*>(&sK[kr * ldq + d]) = kv4;
            *reinterpret_cast<float4*>(&sV[kr * D + d]) = vv4;
        }
        __syncthreads();
        #pragma unroll
        for (int i = 0; i < 4; i++) {
            int r = warp * 8 + rs + 2 * i;
            int tok = t0 + r / G;
            int qpos = tok < T ? c0 + tok : -1;
            int kp = kt + c;
            float s = 0.0f;
            const float4* qa = reinterpret_cast<const float4*>(&sQ[r * ldq]);
            const float4* ka = reinterpret_cast<const float4*>(&sK[c * ldq]);
            #pragma unroll 2
            for (int d4 = 0; d4 < D / 4; d4++) {
                float4 a = qa[d4], b = ka[d4];
                s += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
            }
            if (kp > qpos) s = -INFINITY;
            float tmax = s;
            #pragma unroll
            for (int o = 8; o > 0; o >>= 1) tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, o));
            float m_old = sm[r];
            float m_new = fmaxf(m_old, tmax);
            float m_use = m_new == -INFINITY ? 0.0f : m_new;
            float p = expf(s - m_use);
            float psum = p;
            #pragma unroll
            for (int o = 8; o > 0; o >>= 1) psum += __shfl_xor_sync(0xffffffffu, psum, o);
            sP[r * FP_BK + c] = p;
            __syncwarp();
            if (c == 0) {
                float alpha = expf(m_old - m_use);
                sa[r] = alpha;
                sm[r] = m_new;
                sl[r] = sl[r] * alpha + psum;
            }
            __syncwarp();
        }
        #pragma unroll
        for (int rr = 0; rr < 8; rr++) {
            int r = warp * 8 + rr;
            float alpha = sa[r];
            #pragma unroll
            for (int n = 0; n < ND; n++) O[rr][n] *= alpha;
            #pragma unroll
            for (int cc = 0; cc < FP_BK; cc++) {
                float p = sP[r * FP_BK + cc];
                #pragma unroll
                for (int n = 0; n < ND; n++) O[rr][n] += p * sV[cc * D + lane + 32 * n];
            }
        }
    }
    #pragma unroll
    for (int rr = 0; rr < 8; rr++) {
        int r = warp * 8 + rr, tok = t0 + r / G, h = j * G + r % G;
        if (tok < T) {
            float inv_l = 1.0f / sl[r];
            const float* gate = qg + ((size_t)(seq0 + tok) * Hq + h) * 2 * D + D;
            #pragma unroll
            for (int n = 0; n < ND; n++) {
                int d = lane + 32 * n;
                y[(size_t)(seq0 + tok) * Hq * D + h * D + d] = O[rr][n] * inv_l * sigmoid_f(gate[d]);
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(256, 1)
attn_flash_prefill(float* __restrict__ y, const float* __restrict__ q, const float* __restrict__ qg,
                   const float* __restrict__ k_pages, const float* __restrict__ v_pages,
                   const int* __restrict__ cu_seqlens, const int* __restrict__ context_lens,
                   const int* __restrict__ block_tables, int Hq, int Hkv, int D, int page_size, int max_pages,
                   float scale) {
    switch (D / 32) {
        case 2: flash_prefill_impl<2>(y, q, qg, k_pages, v_pages, cu_seqlens, context_lens, block_tables, Hq, Hkv, D, page_size, max_pages, scale); break;
        case 4: flash_prefill_impl<4>(y, q, qg, k_pages, v_pages, cu_seqlens, context_lens, block_tables, Hq, Hkv, D, page_size, max_pages, scale); break;
        case 8: flash_prefill_impl<8>(y, q, qg, k_pages, v_pages, cu_seqlens, context_lens, block_tables, Hq, Hkv, D, page_size, max_pages, scale); break;
        default: break;
    }
}
