// Fast-precision prefill GEMM on Hopper's wgmma (sm_90a):
//   y[T, out] (+)= xb[T, in] . W[out, in]^T,  xb and W bf16, fp32 accumulate.
// The activations arrive in bf16, cast once by their producer (cast_f32_bf16
// or a kernel that writes bf16); the exact path keeps matmul_bf16_mma's
// 3-term split. One 128 x 256 output tile per block (common/gemm_wgmma.cuh),
// grid (ceil(out/256), ceil(T/128)), block 256, dyn smem GW_SMEM_BYTES.
// in % 8 == 0 and 16-byte aligned xb / W (the launcher checks).
#include "gemm_wgmma.cuh"

extern "C" __global__ void __launch_bounds__(256, 1)
matmul_bf16_wgmma(float* __restrict__ y, const unsigned short* __restrict__ xb,
                  const unsigned short* __restrict__ W, int T, int in, int out, int accumulate) {
    extern __shared__ unsigned char dyn[];
    __shared__ int arow[GW_BM], brow[GW_BN];
    const int m0 = blockIdx.y * GW_BM, n0 = blockIdx.x * GW_BN, tid = threadIdx.x;
    if (tid < GW_BM) arow[tid] = m0 + tid < T ? m0 + tid : -1;
    brow[tid] = n0 + tid < out ? n0 + tid : -1;
    __syncthreads();
    GemmRows g = {xb, W, in, in, in};
    float acc[128];
    gw_mainloop(acc, gw_stages(dyn), g, arow, brow);
    const bool pairs = (out & 1) == 0;
    #pragma unroll
    for (int j = 0; j < 32; j++) {
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            int m = m0 + gw_row(2 * h), n = n0 + gw_col(j, 0);
            if (m >= T || n >= out) continue;
            float* dst = y + (size_t)m * out + n;
            float v0 = acc[4 * j + 2 * h], v1 = acc[4 * j + 2 * h + 1];
            if (pairs) {
                float2 o = make_float2(v0, v1);
                if (accumulate) { float2 p = *reinterpret_cast<float2*>(dst); o.x += p.x; o.y += p.y; }
                *reinterpret_cast<float2*>(dst) = o;
            } else {
                dst[0] = accumulate ? dst[0] + v0 : v0;
                if (n + 1 < out) dst[1] = accumulate ? dst[1] + v1 : v1;
            }
        }
    }
}
