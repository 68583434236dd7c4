// Causal depthwise conv (kernel K, no bias) + SiLU over the q|k|v channels of
// the Gated DeltaNet, read straight from the grouped qkvz projection (no
// repacking pass), over a packed batch (varlen.cuh) whose sequences each keep
// their conv window in a state slot:
//   out[t, ch] = silu(sum_j w[ch, j] * x[i-K+1+j, ch])   (i = t's index in its sequence b)
// x at i' < 0 comes from conv_states[slot_ids[b], ch, K + i'] (column K-1 = newest), so a
// zeroed slot gives HF's zero padding and a filled one continues the sequence;
// the window never reaches into another sequence's tokens.
// qkvz fp32 [T, Hk*(2Dk+2rDv)], w bf16 [conv_dim, K],
// conv_states fp32 [slots, conv_dim, K], out fp32 [T, conv_dim].
// Prefill is two launches: gdn_conv1d_prefill (parallel over channels x
// tokens, states read only) then gdn_conv1d_state_update (keeps each
// sequence's last K pre-conv columns). Decode (one token per sequence) is the
// fused one-step gdn_conv1d_step.
#include "bf16.cuh"
#include "gdn_layout.cuh"
#include "varlen.cuh"

#define CONV_MAX_K 8

// grid (ceil(conv_dim/256), min(T, 65535)): block row y handles tokens y, y + gridDim.y, ...
extern "C" __global__ void __launch_bounds__(256)
gdn_conv1d_prefill(float* __restrict__ out, const float* __restrict__ conv_states,
                   const float* __restrict__ qkvz, const unsigned short* __restrict__ w,
                   const int* __restrict__ cu_seqlens, const int* __restrict__ slot_ids,
                   int T, int B, int Hk, int Hv, int Dk, int Dv, int K) {
    int conv_dim = 2 * Hk * Dk + Hv * Dv;
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= conv_dim) return;
    int ld = Hk * (2 * Dk + 2 * (Hv / Hk) * Dv);
    int col = gdn_channel_col(ch, Hk, Hv, Dk, Dv);
    for (int t = blockIdx.y; t < T; t += gridDim.y) {
        int b = varlen_seq_of(cu_seqlens, B, t);
        int first = cu_seqlens[b], i = t - first;
        const float* st = conv_states + ((size_t)slot_ids[b] * conv_dim + ch) * K;
        float acc = 0.0f;
        for (int j = 0; j < K; j++) {
            int ls = i - K + 1 + j;
            float xv = ls >= 0 ? qkvz[(size_t)(first + ls) * ld + col] : st[K + ls];
            acc += bf16_to_f32(w[(size_t)ch * K + j]) * xv;
        }
        out[(size_t)t * conv_dim + ch] = silu_f(acc);
    }
}

// After gdn_conv1d_prefill, grid (ceil(conv_dim/256), B): the slot of sequence b keeps its last K
// pre-conv inputs (older columns from the previous state when the sequence has fewer than K tokens).
extern "C" __global__ void __launch_bounds__(256)
gdn_conv1d_state_update(float* __restrict__ conv_states, const float* __restrict__ qkvz,
                        const int* __restrict__ cu_seqlens, const int* __restrict__ slot_ids,
                        int Hk, int Hv, int Dk, int Dv, int K) {
    int conv_dim = 2 * Hk * Dk + Hv * Dv;
    int ch = blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.y;
    if (ch >= conv_dim || K > CONV_MAX_K) return;
    int ld = Hk * (2 * Dk + 2 * (Hv / Hk) * Dv);
    int col = gdn_channel_col(ch, Hk, Hv, Dk, Dv);
    int first = cu_seqlens[b], n = cu_seqlens[b + 1] - first;
    float nv[CONV_MAX_K];
    float* st = conv_states + ((size_t)slot_ids[b] * conv_dim + ch) * K;
    #pragma unroll
    for (int j = 0; j < CONV_MAX_K; j++) {
        if (j < K) {
            int ls = n - K + j;
            nv[j] = ls >= 0 ? qkvz[(size_t)(first + ls) * ld + col] : st[K + ls];
        }
    }
    #pragma unroll
    for (int j = 0; j < CONV_MAX_K; j++) if (j < K) st[j] = nv[j];
}

// Decode, grid (ceil(conv_dim/256), B): sequence b's one token is qkvz row b. Shift its slot's
// window left, append the new input, convolve the K stored columns; out [B, conv_dim].
extern "C" __global__ void __launch_bounds__(256)
gdn_conv1d_step(float* __restrict__ out, float* __restrict__ conv_states,
                const float* __restrict__ qkvz, const unsigned short* __restrict__ w,
                const int* __restrict__ slot_ids, int Hk, int Hv, int Dk, int Dv, int K) {
    int conv_dim = 2 * Hk * Dk + Hv * Dv;
    int ch = blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.y;
    if (ch >= conv_dim || K > CONV_MAX_K) return;
    int ld = Hk * (2 * Dk + 2 * (Hv / Hk) * Dv);
    float* st = conv_states + ((size_t)slot_ids[b] * conv_dim + ch) * K;
    float x = qkvz[(size_t)b * ld + gdn_channel_col(ch, Hk, Hv, Dk, Dv)];
    float acc = 0.0f;
    for (int j = 0; j < K; j++) {
        float v = (j + 1 < K) ? st[j + 1] : x;
        st[j] = v;
        acc += bf16_to_f32(w[(size_t)ch * K + j]) * v;
    }
    out[(size_t)b * conv_dim + ch] = silu_f(acc);
}
