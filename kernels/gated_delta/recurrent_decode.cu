// Gated delta rule, token by token (decode; also a reference path for any T):
//   S = exp(g) S;  u = beta (v - S^T k);  S += k u^T;  o = S^T q
// over a packed batch (varlen.cuh): block (x, h, b) runs the tokens cu[b] ..
// cu[b+1]-1 of sequence b on its state slot: states fp32 [slots, Hv, Dk, Dv]
// (key index first), slot slot_ids[b], updated in place. Value head h
// reads key head h / (Hv/Hk); q/k are never repeated in memory.
// q, k: fp32, element (t, key head j, i) at q[t*ldq + j*Dk + i] (same for k
// with ldk); v: v[t*ldv + h*Dv + c]; g, beta fp32 [T, Hv];
// o: o[t*ldo + h*Dv + c]. q is expected already l2-normalised and scaled.
// Grid (ceil(Dv/32), Hv, B), block 128 = 4 warps. Lane = value column c of a
// 32-wide tile, warp w = a quarter of the key rows, so the state tile lives
// in registers (ROWS = Dk/4 per thread) for all T tokens and the global
// state is read and written once, coalesced. Supports Dk <= 128.
#include "bf16.cuh"

template <int ROWS>
__device__ __forceinline__ void gdn_recurrent_tile(float* __restrict__ o, float* __restrict__ state,
        const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
        const float* __restrict__ gate, const float* __restrict__ beta,
        const int* __restrict__ cu_seqlens, const int* __restrict__ slot_ids,
        int Hk, int Hv, int Dk, int Dv, int ldq, int ldk, int ldv, int ldo) {
    __shared__ float sk[4 * ROWS], sq[4 * ROWS];
    __shared__ float part[2][4][32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int h = blockIdx.y, c = blockIdx.x * 32 + lane, b = blockIdx.z;
    const int kh = h / (Hv / Hk);
    const int t_first = cu_seqlens[b], t_end = cu_seqlens[b + 1];
    const bool cok = c < Dv;
    float S[ROWS];
    float* st = state + ((size_t)slot_ids[b] * Hv + h) * Dk * Dv;
    #pragma unroll
    for (int m = 0; m < ROWS; m++) {
        int i = warp * ROWS + m;
        S[m] = (cok && i < Dk) ? st[(size_t)i * Dv + c] : 0.0f;
    }
    for (int t = t_first; t < t_end; t++) {
        for (int i = threadIdx.x; i < 4 * ROWS; i += blockDim.x) {
            sk[i] = i < Dk ? k[(size_t)t * ldk + kh * Dk + i] : 0.0f;
            sq[i] = i < Dk ? q[(size_t)t * ldq + kh * Dk + i] : 0.0f;
        }
        __syncthreads();
        float decay = expf(gate[(size_t)t * Hv + h]), b = beta[(size_t)t * Hv + h];
        float kv = 0.0f;
        #pragma unroll
        for (int m = 0; m < ROWS; m++) { S[m] *= decay; kv += S[m] * sk[warp * ROWS + m]; }
        part[0][warp][lane] = kv;
        __syncthreads();
        kv = part[0][0][lane] + part[0][1][lane] + part[0][2][lane] + part[0][3][lane];
        float vc = cok ? v[(size_t)t * ldv + h * Dv + c] : 0.0f;
        float u = b * (vc - kv);
        float oc = 0.0f;
        #pragma unroll
        for (int m = 0; m < ROWS; m++) { S[m] += sk[warp * ROWS + m] * u; oc += S[m] * sq[warp * ROWS + m]; }
        part[1][warp][lane] = oc;
        __syncthreads();
        if (warp == 0 && cok)
            o[(size_t)t * ldo + h * Dv + c] = part[1][0][lane] + part[1][1][lane] + part[1][2][lane] + part[1][3][lane];
        // the next token's first barrier orders these reads before part[] is rewritten
    }
    #pragma unroll
    for (int m = 0; m < ROWS; m++) {
        int i = warp * ROWS + m;
        if (cok && i < Dk) st[(size_t)i * Dv + c] = S[m];
    }
}

extern "C" __global__ void __launch_bounds__(128)
gdn_recurrent(float* __restrict__ o, float* __restrict__ state,
              const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
              const float* __restrict__ gate, const float* __restrict__ beta,
              const int* __restrict__ cu_seqlens, const int* __restrict__ slot_ids,
              int Hk, int Hv, int Dk, int Dv, int ldq, int ldk, int ldv, int ldo) {
    if (Dk <= 32)      gdn_recurrent_tile<8>(o, state, q, k, v, gate, beta, cu_seqlens, slot_ids, Hk, Hv, Dk, Dv, ldq, ldk, ldv, ldo);
    else if (Dk <= 64) gdn_recurrent_tile<16>(o, state, q, k, v, gate, beta, cu_seqlens, slot_ids, Hk, Hv, Dk, Dv, ldq, ldk, ldv, ldo);
    else               gdn_recurrent_tile<32>(o, state, q, k, v, gate, beta, cu_seqlens, slot_ids, Hk, Hv, Dk, Dv, ldq, ldk, ldv, ldo);
}
