// Gated-attention head prep over a packed batch, one block per (token, head):
//   heads 0..Hq-1:   q_out[t, h] = rope(ZNorm(qg[t, h, 0:D]; q_norm), positions[t])
//   heads Hq..+Hkv:  k_pages[row] = rope(ZNorm(k[t, j]; k_norm), positions[t]); v_pages[row] = v[t, j]
// where row is token t's cache index ctx[b] - len(b) + (t - cu[b]) in its sequence b, through b's block table
// (see varlen.cuh). ZNorm(x; w) = x * rsqrt(mean(x^2) + eps) * (1 + w) over the full head dim.
// Partial RoPE, rotate-half inside the first rotary_dim dims: for i < R/2,
//   x'[i] = x[i] cos - x[i+R/2] sin,  x'[i+R/2] = x[i+R/2] cos + x[i] sin,
// cos/sin read from the shared host-built table rope [rows, R] (row p = [cos half | sin half]), so every backend
// rotates by exactly the same values at any position; nothing here calls powf/cosf.
// qg fp32 [T, Hq, 2D] ([query | gate] per head), k, v fp32 [T, Hkv*D], q_norm/k_norm fp32 [D],
// q_out fp32 [T, Hq, D], pages [num_pages, Hkv, page_size, D]: fp32 (attn_qk_norm_rope) or bf16 bits rounded to
// nearest even (attn_qk_norm_rope_bf16, the fast precision's cache); the math is fp32 either way. D <= 512.
#include "bf16.cuh"
#include "reduce.cuh"
#include "varlen.cuh"

__device__ __forceinline__ void kv_store(float* p, float x) { *p = x; }
__device__ __forceinline__ void kv_store(unsigned short* p, float x) { *p = f32_to_bf16_rn(x); }

template <typename KV>
__device__ __forceinline__ void qk_norm_rope_impl(float* __restrict__ q_out, KV* __restrict__ k_pages, KV* __restrict__ v_pages,
                  const float* __restrict__ qg, const float* __restrict__ k, const float* __restrict__ v,
                  const float* __restrict__ q_norm_w, const float* __restrict__ k_norm_w,
                  const float* __restrict__ rope, const int* __restrict__ positions,
                  const int* __restrict__ cu_seqlens, const int* __restrict__ context_lens,
                  const int* __restrict__ block_tables, int T, int B, int Hq, int Hkv, int D, int rotary_dim,
                  int page_size, int max_pages, float eps, float* sx) {
    int t = blockIdx.x, hh = blockIdx.y;
    if (t >= T || hh >= Hq + Hkv || D > 512) return;
    int pos = positions[t];
    bool is_q = hh < Hq;
    int j = hh - Hq;
    const float* src = is_q ? qg + ((size_t)t * Hq + hh) * 2 * D : k + ((size_t)t * Hkv + j) * D;
    const float* w = is_q ? q_norm_w : k_norm_w;
    size_t row = 0;
    if (!is_q) {
        int b = varlen_seq_of(cu_seqlens, B, t);
        int c = context_lens[b] - (cu_seqlens[b + 1] - cu_seqlens[b]) + (t - cu_seqlens[b]);
        row = paged_row(block_tables, max_pages, b, c, page_size, Hkv, j, D);
    }
    float* qdst = q_out + ((size_t)t * Hq + hh) * D;
    KV* kdst = k_pages + row;
    float ss = 0.0f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) { float x = src[d]; sx[d] = x; ss += x * x; }
    float inv = rsqrtf(block_sum(ss) / (float)D + eps);   // barrier inside publishes sx
    for (int d = threadIdx.x; d < D; d += blockDim.x) sx[d] = sx[d] * inv * (1.0f + w[d]);
    __syncthreads();
    int half = rotary_dim / 2;
    const float* rrow = rope + (size_t)pos * rotary_dim;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float out = sx[d];
        if (d < rotary_dim) {
            int i = d < half ? d : d - half;
            float c = rrow[i], s = rrow[half + i];
            out = d < half ? sx[d] * c - sx[d + half] * s : sx[d] * c + sx[d - half] * s;
        }
        if (is_q) qdst[d] = out;
        else kv_store(kdst + d, out);
    }
    if (!is_q) {
        const float* vs = v + ((size_t)t * Hkv + j) * D;
        KV* vd = v_pages + row;
        for (int d = threadIdx.x; d < D; d += blockDim.x) kv_store(vd + d, vs[d]);
    }
}

#define QK_NORM_ROPE_ARGS(KV)                                                                                         \
    float* __restrict__ q_out, KV* __restrict__ k_pages, KV* __restrict__ v_pages, const float* __restrict__ qg,       \
        const float* __restrict__ k, const float* __restrict__ v, const float* __restrict__ q_norm_w,                 \
        const float* __restrict__ k_norm_w, const float* __restrict__ rope, const int* __restrict__ positions,        \
        const int* __restrict__ cu_seqlens, const int* __restrict__ context_lens,                                     \
        const int* __restrict__ block_tables, int T, int B, int Hq, int Hkv, int D, int rotary_dim, int page_size,   \
        int max_pages, float eps
#define QK_NORM_ROPE_CALL                                                                                             \
    qk_norm_rope_impl(q_out, k_pages, v_pages, qg, k, v, q_norm_w, k_norm_w, rope, positions, cu_seqlens,             \
                      context_lens, block_tables, T, B, Hq, Hkv, D, rotary_dim, page_size, max_pages, eps, sx)

extern "C" __global__ void __launch_bounds__(128) attn_qk_norm_rope(QK_NORM_ROPE_ARGS(float)) {
    __shared__ float sx[512];
    QK_NORM_ROPE_CALL;
}

extern "C" __global__ void __launch_bounds__(128) attn_qk_norm_rope_bf16(QK_NORM_ROPE_ARGS(unsigned short)) {
    __shared__ float sx[512];
    QK_NORM_ROPE_CALL;
}
