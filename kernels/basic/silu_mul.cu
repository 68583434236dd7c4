// SwiGLU activation: out[t, i] = silu(gate[t*ld_in + i]) * up[t*ld_in + i].
// gate/up are strided views so one [T, 2I] buffer (gate cols then up cols,
// ld_in = 2I, up = gate + I) or two [T, I] buffers (ld_in = I) both work.
// out fp32 [T, I]; silu_mul_bf16 writes bf16 bits instead (fast precision: the
// input of the next tensor-core GEMM, rounded once here).
#include "bf16.cuh"

extern "C" __global__ void __launch_bounds__(256)
silu_mul(float* __restrict__ out, const float* __restrict__ gate, const float* __restrict__ up,
         int T, int I, int ld_in) {
    long long n = (long long)T * I;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n;
         e += (long long)gridDim.x * blockDim.x) {
        long long t = e / I, i = e - t * I;
        out[e] = silu_f(gate[t * ld_in + i]) * up[t * ld_in + i];
    }
}

extern "C" __global__ void __launch_bounds__(256)
silu_mul_bf16(unsigned short* __restrict__ out, const float* __restrict__ gate, const float* __restrict__ up,
              int T, int I, int ld_in) {
    long long n = (long long)T * I;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n;
         e += (long long)gridDim.x * blockDim.x) {
        long long t = e / I, i = e - t * I;
        out[e] = f32_to_bf16_rn(silu_f(gate[t * ld_in + i]) * up[t * ld_in + i]);
    }
}
