// Per token and key head g (one block each):
//  - q, k of head g inside the conv output, in place:
//      k <- k * rsqrt(sum k^2 + 1e-6); q <- q * rsqrt(sum q^2 + 1e-6) * q_scale
//    (l2norm only when use_l2norm != 0; q_scale = Dk^-0.5 is applied always,
//    as in HF). Normalising in place avoids a copy: the delta-rule kernels
//    read q, k, v from the conv output with row stride conv_dim.
//  - for the r value heads h = g*r .. g*r+r-1 of the group, from the grouped
//    ba row [b_g (r) | a_g (r)]:
//      beta[t, h] = sigmoid(b),  g[t, h] = -exp(A_log[h]) * softplus(a + dt_bias[h])
// conv_out fp32 [T, conv_dim] (q at h*Dk, k at Hk*Dk + h*Dk), ba fp32
// [T, 2*Hv], A_log/dt_bias fp32 [Hv], gate/beta fp32 [T, Hv].
#include "bf16.cuh"
#include "reduce.cuh"

__device__ __forceinline__ float softplus_f(float x) {
    // torch.nn.functional.softplus (beta=1, threshold=20)
    return x > 20.0f ? x : log1pf(expf(x));
}

extern "C" __global__ void __launch_bounds__(128)
gdn_qk_l2norm_gates(float* __restrict__ conv_out, float* __restrict__ gate, float* __restrict__ beta,
                    const float* __restrict__ ba, const float* __restrict__ A_log,
                    const float* __restrict__ dt_bias, int T, int Hk, int Hv, int Dk, int Dv,
                    float q_scale, int use_l2norm) {
    int t = blockIdx.x, g = blockIdx.y;
    if (t >= T || g >= Hk) return;
    int conv_dim = 2 * Hk * Dk + Hv * Dv;
    float* q = conv_out + (size_t)t * conv_dim + g * Dk;
    float* k = conv_out + (size_t)t * conv_dim + Hk * Dk + g * Dk;
    float sq = 0.0f, sk = 0.0f;
    for (int d = threadIdx.x; d < Dk; d += blockDim.x) { sq += q[d] * q[d]; sk += k[d] * k[d]; }
    float iq = q_scale, ik = 1.0f;
    if (use_l2norm) {
        iq = rsqrtf(block_sum(sq) + 1e-6f) * q_scale;
        ik = rsqrtf(block_sum(sk) + 1e-6f);
    }
    for (int d = threadIdx.x; d < Dk; d += blockDim.x) { q[d] *= iq; k[d] *= ik; }
    int r = Hv / Hk;
    if (threadIdx.x < r) {
        int j = threadIdx.x, h = g * r + j;
        const float* bag = ba + (size_t)t * 2 * Hv + g * 2 * r;
        beta[(size_t)t * Hv + h] = sigmoid_f(bag[j]);
        gate[(size_t)t * Hv + h] = -expf(A_log[h]) * softplus_f(bag[r + j] + dt_bias[h]);
    }
}
