// Fast precision: round fp32 activations to bf16 once, before the tensor-core
// GEMMs that read them (round to nearest even, NaN stays NaN; bf16.cuh).
//   cast_f32_bf16: out[i] = bf16(x[i]) for i < n, and when out_lo is not NULL
//   out_lo[i] = bf16(x[i] - out[i]): hi + lo carry x to ~2^-17 relative, for a
//   GEMM that needs more than bf16 (the MoE router: two passes, hi then lo).
//   Grid-stride, 4 values per step when the pointers are 16/8-byte aligned.
#include "bf16.cuh"

__device__ __forceinline__ unsigned int cast_pair(float a, float b, unsigned int& lo) {
    unsigned short ha = f32_to_bf16_rn(a), hb = f32_to_bf16_rn(b);
    lo = f32_to_bf16_rn(a - bf16_to_f32(ha)) | ((unsigned int)f32_to_bf16_rn(b - bf16_to_f32(hb)) << 16);
    return ha | ((unsigned int)hb << 16);
}

extern "C" __global__ void __launch_bounds__(256)
cast_f32_bf16(unsigned short* __restrict__ out, unsigned short* __restrict__ out_lo, const float* __restrict__ x, long long n) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    long long done = 0;
    if (((((size_t)x) & 15) == 0) && ((((size_t)out) & 7) == 0) && ((((size_t)out_lo) & 7) == 0)) {
        for (long long q = i; q < n / 4; q += stride) {
            float4 v = __ldg(reinterpret_cast<const float4*>(x) + q);
            uint2 lo;
            uint2 hi = make_uint2(cast_pair(v.x, v.y, lo.x), cast_pair(v.z, v.w, lo.y));
            reinterpret_cast<uint2*>(out)[q] = hi;
            if (out_lo) reinterpret_cast<uint2*>(out_lo)[q] = lo;
        }
        done = (n / 4) * 4;
    }
    for (long long e = done + i; e < n; e += stride) {
        unsigned short h = f32_to_bf16_rn(x[e]);
        out[e] = h;
        if (out_lo) out_lo[e] = f32_to_bf16_rn(x[e] - bf16_to_f32(h));
    }
}
