// Causal depthwise conv (kernel K, no bias) + SiLU over the q|k|v channels of
// the Gated DeltaNet, read straight from the grouped qkvz projection (no
// repacking pass):  out[t, ch] = silu(sum_j w[ch, j] * x[t-K+1+j, ch]).
// x at t < 0 comes from conv_state[ch, K + t] (column K-1 = newest), so a
// zeroed state gives HF's zero padding and a filled state continues a
// sequence. qkvz fp32 [T, Hk*(2Dk+2rDv)], w bf16 [conv_dim, K],
// conv_state fp32 [conv_dim, K], out fp32 [T, conv_dim].
// Prefill is two launches: gdn_conv1d_prefill (parallel over channels x
// tokens, state read only) then gdn_conv1d_state_update (keeps the last K
// pre-conv columns). Decode is the fused one-step gdn_conv1d_step.
#include "bf16.cuh"
#include "gdn_layout.cuh"

#define CONV_MAX_K 8

extern "C" __global__ void __launch_bounds__(256)
gdn_conv1d_prefill(float* __restrict__ out, const float* __restrict__ conv_state,
                   const float* __restrict__ qkvz, const unsigned short* __restrict__ w,
                   int T, int Hk, int Hv, int Dk, int Dv, int K) {
    int conv_dim = 2 * Hk * Dk + Hv * Dv;
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    int t = blockIdx.y;
    if (ch >= conv_dim || t >= T) return;
    int ld = Hk * (2 * Dk + 2 * (Hv / Hk) * Dv);
    int col = gdn_channel_col(ch, Hk, Hv, Dk, Dv);
    float acc = 0.0f;
    for (int j = 0; j < K; j++) {
        int ts = t - K + 1 + j;
        float xv = ts >= 0 ? qkvz[(size_t)ts * ld + col] : conv_state[(size_t)ch * K + K + ts];
        acc += bf16_to_f32(w[(size_t)ch * K + j]) * xv;
    }
    out[(size_t)t * conv_dim + ch] = silu_f(acc);
}

// After gdn_conv1d_prefill: conv_state[ch, :] = last K pre-conv inputs
// (older columns from the previous state when T < K).
extern "C" __global__ void __launch_bounds__(256)
gdn_conv1d_state_update(float* __restrict__ conv_state, const float* __restrict__ qkvz,
                        int T, int Hk, int Hv, int Dk, int Dv, int K) {
    int conv_dim = 2 * Hk * Dk + Hv * Dv;
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= conv_dim || K > CONV_MAX_K) return;
    int ld = Hk * (2 * Dk + 2 * (Hv / Hk) * Dv);
    int col = gdn_channel_col(ch, Hk, Hv, Dk, Dv);
    float nv[CONV_MAX_K];
    float* st = conv_state + (size_t)ch * K;
    #pragma unroll
    for (int j = 0; j < CONV_MAX_K; j++) {
        if (j < K) {
            int ts = T - K + j;
            nv[j] = ts >= 0 ? qkvz[(size_t)ts * ld + col] : st[K + ts];
        }
    }
    #pragma unroll
    for (int j = 0; j < CONV_MAX_K; j++) if (j < K) st[j] = nv[j];
}

// Decode: one token (qkvz row 0). Shift the state left, append the new input,
// convolve the K stored columns.
extern "C" __global__ void __launch_bounds__(256)
gdn_conv1d_step(float* __restrict__ out, float* __restrict__ conv_state,
                const float* __restrict__ qkvz, const unsigned short* __restrict__ w,
                int Hk, int Hv, int Dk, int Dv, int K) {
    int conv_dim = 2 * Hk * Dk + Hv * Dv;
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= conv_dim || K > CONV_MAX_K) return;
    float* st = conv_state + (size_t)ch * K;
    float x = qkvz[gdn_channel_col(ch, Hk, Hv, Dk, Dv)];
    float acc = 0.0f;
    for (int j = 0; j < K; j++) {
        float v = (j + 1 < K) ? st[j + 1] : x;
        st[j] = v;
        acc += bf16_to_f32(w[(size_t)ch * K + j]) * v;
    }
    out[ch] = silu_f(acc);
}
