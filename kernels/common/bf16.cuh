// bf16 helpers. Weights arrive as raw bf16 bits (unsigned short); widening is
// exact (bits << 16), so every weight value is used exactly as stored.
#pragma once
#include <stdint.h>

__device__ __forceinline__ float bf16_to_f32(unsigned short b) {
    return __uint_as_float(((unsigned int)b) << 16);
}

// widen the two bf16 packed in one 32-bit word (low half = lower address)
__device__ __forceinline__ void bf16x2_to_f32(unsigned int w, float& lo, float& hi) {
    lo = __uint_as_float(w << 16);
    hi = __uint_as_float(w & 0xffff0000u);
}

// widen 8 bf16 from one 128-bit load
__device__ __forceinline__ void bf16x8_to_f32(uint4 v, float* f) {
    bf16x2_to_f32(v.x, f[0], f[1]);
    bf16x2_to_f32(v.y, f[2], f[3]);
    bf16x2_to_f32(v.z, f[4], f[5]);
    bf16x2_to_f32(v.w, f[6], f[7]);
}

// fp32 -> bf16 bits, round to nearest even (inputs are finite activations;
// NaN is kept a NaN).
__device__ __forceinline__ unsigned short f32_to_bf16_rn(float f) {
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short)(u >> 16);
}

// Split an fp32 activation into three bf16 terms, hi + mid + lo, that sum to
// it within ~2^-24 relative (each term carries the next 8 mantissa bits of the
// remainder). A bf16 weight times each term is exact in fp32, so three tensor-
// core products with fp32 accumulation match an fp32 GEMM. Two terms (hi + lo)
// leave ~2^-18 relative per element, which the PTX emulator showed exceeds the
// golden 1e-5 tolerance on router logits and projections (2.8e-6 relative).
__device__ __forceinline__ void f32_split3_bf16(float f, unsigned short& hi, unsigned short& mid, unsigned short& lo) {
    hi = f32_to_bf16_rn(f);
    float r = f - bf16_to_f32(hi);
    mid = f32_to_bf16_rn(r);
    lo = f32_to_bf16_rn(r - bf16_to_f32(mid));
}

__device__ __forceinline__ float silu_f(float x) { return x / (1.0f + expf(-x)); }
__device__ __forceinline__ float sigmoid_f(float x) { return 1.0f / (1.0f + expf(-x)); }
