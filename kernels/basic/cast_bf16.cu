// Fast precision: round fp32 activations to bf16 once, before the tensor-core
// GEMMs that read them (round to nearest even, NaN stays NaN; bf16.cuh).
//   cast_f32_bf16: out[i] = bf16(x[i]) for i < n; grid-stride, 4 values per
//   step when x and out are 16- and 8-byte aligned.
#include "bf16.cuh"

extern "C" __global__ void __launch_bounds__(256)
cast_f32_bf16(unsigned short* __restrict__ out, const float* __restrict__ x, long long n) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (((((size_t)x) & 15) == 0) && ((((size_t)out) & 7) == 0)) {
        for (long long q = i; q < n / 4; q += stride) {
            float4 v = __ldg(reinterpret_cast<const float4*>(x) + q);
            uint2 o = make_uint2(f32_to_bf16_rn(v.x) | ((unsigned int)f32_to_bf16_rn(v.y) << 16),
                                 f32_to_bf16_rn(v.z) | ((unsigned int)f32_to_bf16_rn(v.w) << 16));
            reinterpret_cast<uint2*>(out)[q] = o;
        }
        for (long long e = (n / 4) * 4 + i; e < n; e += stride) out[e] = f32_to_bf16_rn(x[e]);
    } else {
        for (long long e = i; e < n; e += stride) out[e] = f32_to_bf16_rn(x[e]);
    }
}
