// Gated RMSNorm per value head (linear-attention output norm):
//   y[t, h*Dv + d] = w[d] * o * rsqrt(mean_d(o^2) + eps) * silu(z[t, h, d])
// w is used as-is (not 1+w); one weight vector shared by all heads.
// z is read straight from the grouped qkvz projection (see gdn_layout.cuh).
// o fp32 [T, Hv*Dv] (row stride ldo), qkvz fp32 [T, Hk*(2Dk+2rDv)],
// w fp32 [Dv], y fp32 [T, Hv*Dv] (may alias o). One block per (t, h).
#include "bf16.cuh"
#include "reduce.cuh"
#include "gdn_layout.cuh"

extern "C" __global__ void __launch_bounds__(128)
gdn_gated_rmsnorm(float* y, const float* o, const float* __restrict__ qkvz,
                  const float* __restrict__ w, int T, int Hk, int Hv, int Dk, int Dv,
                  int ldo, float eps) {
    int t = blockIdx.x, h = blockIdx.y;
    if (t >= T || h >= Hv) return;
    const float* orow = o + (size_t)t * ldo + h * Dv;
    int ldz = Hk * (2 * Dk + 2 * (Hv / Hk) * Dv);
    const float* z = qkvz + (size_t)t * ldz + gdn_z_col(h, Hk, Hv, Dk, Dv);
    float ss = 0.0f;
    for (int d = threadIdx.x; d < Dv; d += blockDim.x) ss += orow[d] * orow[d];
    float inv = rsqrtf(block_sum(ss) / (float)Dv + eps);
    float* yrow = y + (size_t)t * Hv * Dv + h * Dv;
    for (int d = threadIdx.x; d < Dv; d += blockDim.x)
        yrow[d] = w[d] * (orow[d] * inv) * silu_f(z[d]);
}
