// The whole gated-delta decode core in one kernel (one token per sequence, cu_seqlens = [0, 1, .., B]):
// conv step (gdn_conv1d_step) -> q/k l2 norm and gates (gdn_qk_l2norm_gates) -> recurrent update
// (gdn_recurrent) -> gated RMSNorm (gdn_gated_rmsnorm), with the same arithmetic per element.
// Grid (Hk, B), block 512 = 16 warps. Block (g, b) owns key head g of sequence b and its r = Hv/Hk value
// heads: every conv channel of the group (q_g, k_g and the r heads' v) belongs to exactly one block, so the
// conv window of slot slot_ids[b] is shifted in place without a race. Warp w holds the state tile of value
// columns (w & 3)*32 .. +31 and key rows (w >> 2)*ROWS .. +ROWS-1 in registers; the value heads of the group
// run one after another, each read and written once.
// qkvz fp32 [B, Hk*(2Dk+2rDv)] (gdn_layout.cuh), ba fp32 [B, 2Hv], conv_w bf16 [conv_dim, K],
// conv_states fp32 [slots, conv_dim, K], states fp32 [slots, Hv, Dk, Dv], A_log/dt_bias fp32 [Hv],
// norm_w fp32 [Dv], y fp32 [B, Hv*Dv].
// Limits: Dk <= 128, Dv <= 128, r*Dv <= 1024, r <= 32, K <= 8.
#include "bf16.cuh"
#include "reduce.cuh"
#include "gdn_layout.cuh"

#define GDF_MAX_D 128
#define GDF_MAX_RV 1024
#define GDF_MAX_R 32
#define GDF_MAX_K 8

__device__ __forceinline__ float gdf_softplus(float x) {
    return x > 20.0f ? x : log1pf(expf(x));
}

template <int ROWS>
__device__ __forceinline__ void gdn_decode_fused_impl(float* __restrict__ y, float* __restrict__ conv_states,
        float* __restrict__ states, const float* __restrict__ qkvz, const float* __restrict__ ba,
        const unsigned short* __restrict__ conv_w, const float* __restrict__ A_log,
        const float* __restrict__ dt_bias, const float* __restrict__ norm_w, const int* __restrict__ slot_ids,
        int Hk, int Hv, int Dk, int Dv, int K, float q_scale, float eps) {
    __shared__ float sq[GDF_MAX_D], sk[GDF_MAX_D], sv[GDF_MAX_RV], so[GDF_MAX_D];
    __shared__ float part[2][4][4][32];
    __shared__ float sgate[GDF_MAX_R], sbeta[GDF_MAX_R];
    const int g = blockIdx.x, b = blockIdx.y, tid = threadIdx.x;
    const int r = Hv / Hk, conv_dim = 2 * Hk * Dk + Hv * Dv, ld = Hk * (2 * Dk + 2 * r * Dv);
    const int slot = slot_ids[b];
    const float* x = qkvz + (size_t)b * ld;

    // 1. Conv step of the group's channels (local e: q_g | k_g | v of the r heads).
    for (int e = tid; e < 2 * Dk + r * Dv; e += blockDim.x) {
        int ch = e < Dk ? g * Dk + e : e < 2 * Dk ? Hk * Dk + g * Dk + (e - Dk) : 2 * Hk * Dk + g * r * Dv + (e - 2 * Dk);
        float* st = conv_states + ((size_t)slot * conv_dim + ch) * K;
        float xin = x[gdn_channel_col(ch, Hk, Hv, Dk, Dv)];
        float acc = 0.0f;
        for (int j = 0; j < K; j++) {
            float v = (j + 1 < K) ? st[j + 1] : xin;
            st[j] = v;
            acc += bf16_to_f32(conv_w[(size_t)ch * K + j]) * v;
        }
        float out = silu_f(acc);
        if (e < Dk) sq[e] = out;
        else if (e < 2 * Dk) sk[e - Dk] = out;
        else sv[e - 2 * Dk] = out;
    }
    __syncthreads();

    // 2. l2 norm of q and k, gates of the r value heads.
    float ssq = 0.0f, ssk = 0.0f;
    for (int d = tid; d < Dk; d += blockDim.x) { ssq += sq[d] * sq[d]; ssk += sk[d] * sk[d]; }
    float iq = rsqrtf(block_sum(ssq) + 1e-6f) * q_scale;
    float ik = rsqrtf(block_sum(ssk) + 1e-6f);
    __syncthreads();
    for (int d = tid; d < Dk; d += blockDim.x) { sq[d] *= iq; sk[d] *= ik; }
    if (tid < r) {
        int h = g * r + tid;
        const float* bag = ba + (size_t)b * 2 * Hv + g * 2 * r;
        sbeta[tid] = sigmoid_f(bag[tid]);
        sgate[tid] = -expf(A_log[h]) * gdf_softplus(bag[r + tid] + dt_bias[h]);
    }
    __syncthreads();

    // 3. Per value head: recurrent update of the state tile, then the gated RMSNorm of its output.
    const int lane = tid & 31, warp = tid >> 5, ct = warp & 3, rq = warp >> 2;
    const int c = ct * 32 + lane;
    const bool cok = c < Dv;
    for (int j = 0; j < r; j++) {
        const int h = g * r + j;
        float* st = states + ((size_t)slot * Hv + h) * Dk * Dv;
        float S[ROWS];
#pragma unroll
        for (int m = 0; m < ROWS; m++) {
            int i = rq * ROWS + m;
            S[m] = (cok && i < Dk) ? st[(size_t)i * Dv + c] : 0.0f;
        }
        float decay = expf(sgate[j]), bj = sbeta[j];
        float kv = 0.0f;
#pragma unroll
        for (int m = 0; m < ROWS; m++) {
            int i = rq * ROWS + m;
            S[m] *= decay;
            kv += S[m] * (i < Dk ? sk[i] : 0.0f);
        }
        part[0][rq][ct][lane] = kv;
        __syncthreads();
        kv = part[0][0][ct][lane] + part[0][1][ct][lane] + part[0][2][ct][lane] + part[0][3][ct][lane];
        float vc = cok ? sv[j * Dv + c] : 0.0f;
        float u = bj * (vc - kv);
        float oc = 0.0f;
#pragma unroll
        for (int m = 0; m < ROWS; m++) {
            int i = rq * ROWS + m;
            float ki = i < Dk ? sk[i] : 0.0f, qi = i < Dk ? sq[i] : 0.0f;
            S[m] += ki * u;
            oc += S[m] * qi;
        }
        part[1][rq][ct][lane] = oc;
        __syncthreads();
        if (rq == 0 && cok) so[c] = part[1][0][ct][lane] + part[1][1][ct][lane] + part[1][2][ct][lane] + part[1][3][ct][lane];
#pragma unroll
        for (int m = 0; m < ROWS; m++) {
            int i = rq * ROWS + m;
            if (cok && i < Dk) st[(size_t)i * Dv + c] = S[m];
        }
        __syncthreads();

        float ss = 0.0f;
        for (int d = tid; d < Dv; d += blockDim.x) ss += so[d] * so[d];
        float inv = rsqrtf(block_sum(ss) / (float)Dv + eps);
        const float* z = x + gdn_z_col(h, Hk, Hv, Dk, Dv);
        float* yrow = y + (size_t)b * Hv * Dv + h * Dv;
        for (int d = tid; d < Dv; d += blockDim.x) yrow[d] = norm_w[d] * (so[d] * inv) * silu_f(z[d]);
        __syncthreads();  // so and part are rewritten by the next head
    }
}

extern "C" __global__ void __launch_bounds__(512)
gdn_decode_fused(float* __restrict__ y, float* __restrict__ conv_states, float* __restrict__ states,
                 const float* __restrict__ qkvz, const float* __restrict__ ba, const unsigned short* __restrict__ conv_w,
                 const float* __restrict__ A_log, const float* __restrict__ dt_bias, const float* __restrict__ norm_w,
                 const int* __restrict__ slot_ids, int Hk, int Hv, int Dk, int Dv, int K, float q_scale, float eps) {
    if (Dk > GDF_MAX_D || Dv > GDF_MAX_D || (Hv / Hk) * Dv > GDF_MAX_RV || Hv / Hk > GDF_MAX_R || K > GDF_MAX_K) return;
    if (Dk <= 32)      gdn_decode_fused_impl<8>(y, conv_states, states, qkvz, ba, conv_w, A_log, dt_bias, norm_w, slot_ids, Hk, Hv, Dk, Dv, K, q_scale, eps);
    else if (Dk <= 64) gdn_decode_fused_impl<16>(y, conv_states, states, qkvz, ba, conv_w, A_log, dt_bias, norm_w, slot_ids, Hk, Hv, Dk, Dv, K, q_scale, eps);
    else               gdn_decode_fused_impl<32>(y, conv_states, states, qkvz, ba, conv_w, A_log, dt_bias, norm_w, slot_ids, Hk, Hv, Dk, Dv, K, q_scale, eps);
}
