// Gated-attention head prep, one block per (token, head):
//   heads 0..Hq-1:   q_out[t, h] = rope(ZNorm(qg[t, h, 0:D]; q_norm))
//   heads Hq..+Hkv:  k_cache[j, pos] = rope(ZNorm(k[t, j]; k_norm)); v_cache[j, pos] = v[t, j]
// ZNorm(x; w) = x * rsqrt(mean(x^2) + eps) * (1 + w) over the full head dim.
// Partial RoPE, rotate-half inside the first rotary_dim dims: for i < R/2,
//   x'[i] = x[i] cos - x[i+R/2] sin,  x'[i+R/2] = x[i+R/2] cos + x[i] sin,
//   angle = pos * inv_freq[i], inv_freq[i] = 1 / theta^(2i/R), all fp32
// (same float32 order as HF, so long positions round the same way).
// pos = start_pos + t. qg fp32 [T, Hq, 2D] ([query | gate] per head),
// k, v fp32 [T, Hkv*D], q_norm/k_norm fp32 [D], q_out fp32 [T, Hq, D],
// caches fp32 [Hkv, capacity, D]. D <= 512.
#include "reduce.cuh"

extern "C" __global__ void __launch_bounds__(128)
attn_qk_norm_rope(float* __restrict__ q_out, float* __restrict__ k_cache, float* __restrict__ v_cache,
                  const float* __restrict__ qg, const float* __restrict__ k, const float* __restrict__ v,
                  const float* __restrict__ q_norm_w, const float* __restrict__ k_norm_w,
                  int T, int Hq, int Hkv, int D, int rotary_dim, int start_pos, int capacity,
                  float theta, float eps) {
    __shared__ float sx[512];
    int t = blockIdx.x, hh = blockIdx.y;
    if (t >= T || hh >= Hq + Hkv || D > 512) return;
    int pos = start_pos + t;
    bool is_q = hh < Hq;
    int j = hh - Hq;
    const float* src = is_q ? qg + ((size_t)t * Hq + hh) * 2 * D : k + ((size_t)t * Hkv + j) * D;
    const float* w = is_q ? q_norm_w : k_norm_w;
    float* dst = is_q ? q_out + ((size_t)t * Hq + hh) * D : k_cache + ((size_t)j * capacity + pos) * D;
    float ss = 0.0f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) { float x = src[d]; sx[d] = x; ss += x * x; }
    float inv = rsqrtf(block_sum(ss) / (float)D + eps);   // barrier inside publishes sx
    for (int d = threadIdx.x; d < D; d += blockDim.x) sx[d] = sx[d] * inv * (1.0f + w[d]);
    __syncthreads();
    int half = rotary_dim / 2;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float out = sx[d];
        if (d < rotary_dim) {
            int i = d < half ? d : d - half;
            float inv_freq = 1.0f / powf(theta, (float)(2 * i) / (float)rotary_dim);
            float ang = (float)pos * inv_freq;
            float c = cosf(ang), s = sinf(ang);
            out = d < half ? sx[d] * c - sx[d + half] * s : sx[d] * c + sx[d - half] * s;
        }
        dst[d] = out;
    }
    if (!is_q) {
        const float* vs = v + ((size_t)t * Hkv + j) * D;
        float* vd = v_cache + ((size_t)j * capacity + pos) * D;
        for (int d = threadIdx.x; d < D; d += blockDim.x) vd[d] = vs[d];
    }
}
