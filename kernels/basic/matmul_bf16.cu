// y[T, out] (+)= x[T, in] . W[out, in]^T ; x fp32, W bf16, fp32 accumulate.
// Two kernels, the launcher picks by T:
//  - matmul_bf16_gemv (T <= 8, decode): one warp per weight row, 128-bit
//    loads of 8 bf16, every weight byte read exactly once for all T rows; the
//    op is bandwidth bound, so this is the whole decode story.
//  - matmul_bf16_mma (any T, prefill): 64x64 tiles on the tensor cores with
//    the hi/mid/lo activation split of common/mma_tile.cuh.
// accumulate != 0 adds into y (fuses the residual add of o_proj/out_proj).
#include "bf16.cuh"
#include "reduce.cuh"
#include "mma_tile.cuh"

#define GEMV_MAX_T 8

extern "C" __global__ void __launch_bounds__(256)
matmul_bf16_gemv(float* __restrict__ y, const float* __restrict__ x,
                 const unsigned short* __restrict__ W, int T, int in, int out, int accumulate) {
    int lane = threadIdx.x & 31;
    int n = blockIdx.x * 8 + (threadIdx.x >> 5);
    if (n >= out) return;
    const unsigned short* w = W + (size_t)n * in;
    float acc[GEMV_MAX_T];
    #pragma unroll
    for (int t = 0; t < GEMV_MAX_T; t++) acc[t] = 0.0f;
    bool vec = ((in & 7) == 0) && ((((size_t)W) & 15) == 0) && ((((size_t)x) & 15) == 0);
    if (vec) {
        #pragma unroll 4
        for (int k = lane * 8; k < in; k += 256) {
            float wf[8];
            bf16x8_to_f32(__ldg(reinterpret_cast<const uint4*>(w + k)), wf);
            #pragma unroll
            for (int t = 0; t < GEMV_MAX_T; t++) {
                if (t < T) {
                    const float4* xp = reinterpret_cast<const float4*>(x + (size_t)t * in + k);
                    float4 a = __ldg(xp), b = __ldg(xp + 1);
                    acc[t] += wf[0] * a.x + wf[1] * a.y + wf[2] * a.z + wf[3] * a.w
                            + wf[4] * b.x + wf[5] * b.y + wf[6] * b.z + wf[7] * b.w;
                }
            }
        }
    } else {
        for (int k = lane; k < in; k += 32) {
            float wf = bf16_to_f32(__ldg(w + k));
            #pragma unroll
            for (int t = 0; t < GEMV_MAX_T; t++)
                if (t < T) acc[t] += wf * __ldg(x + (size_t)t * in + k);
        }
    }
    #pragma unroll
    for (int t = 0; t < GEMV_MAX_T; t++) {
        if (t < T) {
            float s = warp_sum(acc[t]);
            if (lane == 0) {
                float* dst = y + (size_t)t * out + n;
                *dst = accumulate ? *dst + s : s;
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(128)
matmul_bf16_mma(float* __restrict__ y, const float* __restrict__ x,
                const unsigned short* __restrict__ W, int T, int in, int out, int accumulate) {
    __shared__ __align__(16) MmaTileSmem s;
    int m0 = blockIdx.y * MT_BM, n0 = blockIdx.x * MT_BN;
    if (threadIdx.x < 64) {
        int r = threadIdx.x;
        s.arow[r] = (m0 + r < T) ? m0 + r : -1;
        s.brow[r] = (n0 + r < out) ? n0 + r : -1;
    }
    __syncthreads();
    float acc[2][4][4];
    mma_tile_zero(acc);
    mma_tile_64x64(acc, s, x, in, W, in, in);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int wm = warp >> 1, wn = warp & 1;
    #pragma unroll
    for (int mi = 0; mi < 2; mi++)
        #pragma unroll
        for (int ni = 0; ni < 4; ni++)
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                int m = m0 + wm * 32 + mi * 16 + (lane >> 2) + (e >= 2 ? 8 : 0);
                int n = n0 + wn * 32 + ni * 8 + 2 * (lane & 3) + (e & 1);
                if (m < T && n < out) {
                    float* dst = y + (size_t)m * out + n;
                    *dst = accumulate ? *dst + acc[mi][ni][e] : acc[mi][ni][e];
                }
            }
}
