// MoE output per token (one block per token):
//   y[t] (+)= sum_j w[t,j] * rows[row_of_pair[t*k+j]]
//           + sigmoid(shared_gate_w . x[t]) * shared_out[t]
// Summing the k rows in j order keeps the result deterministic. rows is the
// expert output [T*k, H] in permuted order (row_of_pair from moe_permute) or
// in pair order (row_of_pair = NULL, the decode GEMV path). shared_out may be
// NULL (no shared expert); the shared gate dot product is fused here.
// x fp32 [T, H], shared_gate_w bf16 [H], weights fp32 [T, k], y fp32 [T, H].
// accumulate != 0 adds into y (fuses the residual add).
#include "bf16.cuh"
#include "reduce.cuh"

extern "C" __global__ void __launch_bounds__(256)
moe_unpermute(float* __restrict__ y, const float* __restrict__ rows, const int* __restrict__ row_of_pair,
              const float* __restrict__ weights, const float* __restrict__ shared_out,
              const float* __restrict__ x, const unsigned short* __restrict__ shared_gate_w,
              int T, int k, int H, int accumulate) {
    int t = blockIdx.x;
    if (t >= T) return;
    float sg = 0.0f;
    if (shared_out) {
        float d = 0.0f;
        for (int c = threadIdx.x; c < H; c += blockDim.x)
            d += x[(size_t)t * H + c] * bf16_to_f32(shared_gate_w[c]);
        sg = sigmoid_f(block_sum(d));
    }
    for (int c = threadIdx.x; c < H; c += blockDim.x) {
        float acc = 0.0f;
        for (int j = 0; j < k; j++) {
            int p = t * k + j;
            int r = row_of_pair ? row_of_pair[p] : p;
            acc += weights[p] * rows[(size_t)r * H + c];
        }
        if (shared_out) acc += sg * shared_out[(size_t)t * H + c];
        float* dst = y + (size_t)t * H + c;
        *dst = accumulate ? *dst + acc : acc;
    }
}
