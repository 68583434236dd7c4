// RMSNorm over the last dim, one block per row, fp32 reduction.
//   rmsnorm_zero_centred: y = x * rsqrt(mean(x^2) + eps) * (1 + w)
//     (input/post-attention layernorm, final norm)
//   rmsnorm_plain:        y = x * rsqrt(mean(x^2) + eps) * w
// x, y fp32 [T, n] (may alias); w fp32 [n].
#include "reduce.cuh"

__device__ __forceinline__ void rmsnorm_row(float* y, const float* x, const float* w, int n,
                                            float eps, float w_offset) {
    float ss = 0.0f;
    for (int c = threadIdx.x; c < n; c += blockDim.x) { float v = x[c]; ss += v * v; }
    float inv = rsqrtf(block_sum(ss) / (float)n + eps);
    for (int c = threadIdx.x; c < n; c += blockDim.x) y[c] = x[c] * inv * (w_offset + w[c]);
}

extern "C" __global__ void __launch_bounds__(256)
rmsnorm_zero_centred(float* y, const float* x, const float* __restrict__ w, int T, int n, float eps) {
    if (blockIdx.x >= T) return;
    size_t o = (size_t)blockIdx.x * n;
    rmsnorm_row(y + o, x + o, w, n, eps, 1.0f);
}

extern "C" __global__ void __launch_bounds__(256)
rmsnorm_plain(float* y, const float* x, const float* __restrict__ w, int T, int n, float eps) {
    if (blockIdx.x >= T) return;
    size_t o = (size_t)blockIdx.x * n;
    rmsnorm_row(y + o, x + o, w, n, eps, 0.0f);
}
