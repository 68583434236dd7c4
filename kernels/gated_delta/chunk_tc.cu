// Chunked gated delta rule on tensor cores (fast precision path), along fla's
// decomposition: bf16 operands, fp32 accumulation, the state in fp32
// registers. Math (per value head, chunk of C = 64 with start state S, gc_i =
// cumulative log-decay inside the chunk, gC = gc of its last token), as in
// chunk_prefill.cu:
//   L = beta_i (k_i.k_j) exp(gc_i - gc_j) (j < i),  Tm = (I + L)^-1,
//   W = Tm (beta exp(gc) K),  U = Tm (beta V),  v_new = U - W S,
//   S' = exp(gC) S + sum_c exp(gC - gc_c) k_c v_new_c^T,
//   o_i = exp(gc_i) q_i^T S + sum_{j<=i} (q_i.k_j) exp(gc_i - gc_j) v_new_j.
// Three launches:
//  1. gdn_tc_prepare (chunks x Hv, parallel): cumulative gates, the scaled
//     K K^T (mma), the block lower-triangular solve in fp32 (16x16 diagonal
//     blocks by forward substitution in registers, then the off-diagonal
//     blocks level by level), W and U (mma); also bf16 copies of q and k.
//  2. gdn_tc_state_pass (Dv/32 x Hv x B, sequential over a sequence's
//     chunks): each warp keeps 16 rows of S^T (16 x Dk fp32) in mma
//     accumulators, so S^T converts in registers to the A operand of
//     v_new^T = U^T - S^T W^T and v_new^T (decay-scaled) to the A operand of
//     S^T += v_new^T K; W, K, U tiles stream through a 3-stage cp.async
//     pipeline (two chunks in flight). Writes S^T at each chunk start (h) and
//     v_new for the output pass, and the final state.
//  3. gdn_tc_output (chunks x Hv, parallel): Q K^T masked and decayed, Q S,
//     and P v_new, all mma.
// Packed variable-length batch: sequence b owns tokens cu_seqlens[b] ..
// cu_seqlens[b+1]-1 and is cut into chunks of 64 from its first token;
// chunk_offsets [B+1] (host-computed) numbers its chunks
// chunk_offsets[b] .. chunk_offsets[b+1]-1 and chunk_indices [Nc, 2] maps a
// global chunk back to (b, chunk within b). State: pool fp32
// [slots, Hv, Dk, Dv] (key index first), sequence b uses slot slot_ids[b],
// read as the initial state (zero it for a fresh sequence) and overwritten.
// Inputs as chunk_prefill.cu: q, k at q[t*ldq + (h/r)*Dk + i] (q l2-normed and
// scaled), v[t*ldv + h*Dv + c], gate/beta fp32 [T, Hv]; o[t*ldo + h*Dv + c].
// Workspaces (no initialisation needed), chunk-padded so every tile is a
// 16-byte aligned block and rows past a sequence's end are zero:
//   qb, kb bf16 [2, Hk, Nc, 64, Dk]; w bf16 [Hv, Nc, 64, Dk]; u bf16 [2, Hv, Nc, 64, Dv];
//   gcum fp32 [Hv, Nc, 64] (rows past the end repeat the last gc);
//   h bf16 [Hv, Nc, Dv, Dk] (S^T at each chunk start); vnew bf16 [2, Hv, Nc, Dv, 64].
// A leading 2 holds x as bf16 hi = bf16(x) then lo = bf16(x - hi): q, k, v
// arrive in fp32 and keep ~16 bits through three-term products (hi*hi +
// lo*hi + hi*lo) wherever they meet the output directly (K K^T, U, Q K^T,
// P v_new), as do the register operands S^T, v_new and P (hi + lo as A).
// Still single bf16: W, h and k in the state update (they reach o only
// through later chunks' state).
// Limits: Dk, Dv in {32, 64, 128}.
#include "bf16.cuh"
#include "tc_sm80.cuh"

#define TC_C 64
#define LOG2E 1.4426950408889634f

extern __shared__ __align__(16) unsigned char gdn_tc_smem[];

// ---------------------------------------------------------------- prepare
// dynamic smem: 3*64*(Dk+8)*2 + 2*64*(Dv+8)*2 + 2*64*72*2 + 64*65*4 + 64*66*4 + 3*16*18*4 + 2*64*4
template <int DK, int DV>
__device__ __forceinline__ void prepare_impl(unsigned short* __restrict__ qb, unsigned short* __restrict__ kb,
        unsigned short* __restrict__ w_ws, unsigned short* __restrict__ u_ws, float* __restrict__ gcum,
        const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
        const float* __restrict__ gate, const float* __restrict__ beta, const int* __restrict__ cu_seqlens,
        const int* __restrict__ chunk_indices, int Hk, int Hv, int ldq, int ldk, int ldv) {
    constexpr int LK = DK + 8, LV = DV + 8, LT = 72, LF = 65, LT2 = 66, LX = 18;   // LT2, LX even: float2 rows
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t4 = lane & 3;
    const int ci = blockIdx.x, nc = gridDim.x, h = blockIdx.y, r = Hv / Hk, kh = h / r;
    const int b = chunk_indices[2 * ci], c = chunk_indices[2 * ci + 1];
    const int t0 = cu_seqlens[b] + TC_C * c, n = min(TC_C, cu_seqlens[b + 1] - t0);
    const bool leader = h % r == 0;   // writes the bf16 q, k of its key head
    const size_t qk_lo = (size_t)Hk * nc * TC_C * DK;   // the lo halves follow the hi halves in qb, kb
    const size_t u_lo = (size_t)Hv * nc * TC_C * DV;    // and in u_ws
    unsigned short* sK = reinterpret_cast<unsigned short*>(gdn_tc_smem);
    unsigned short* sKl = sK + TC_C * LK;      // k − bf16(k)
    unsigned short* sKb = sKl + TC_C * LK;
    unsigned short* sV = sKb + TC_C * LK;
    unsigned short* sVl = sV + TC_C * LV;      // beta v − bf16(beta v)
    unsigned short* sTb = sVl + TC_C * LV;
    unsigned short* sTl = sTb + TC_C * LT;
    float* sL = reinterpret_cast<float*>(sTl + TC_C * LT);
    float* sT = sL + TC_C * LF;       // Tm in fp32 [64][66]
    float* sX = sT + TC_C * LT2;      // [3][16][18] off-diagonal products
    float* sgc = sX + 3 * 16 * LX;
    float* sbeta = sgc + TC_C;

    // Cumulative gate: two warps scan 32 values each.
    if (tid < TC_C) {
        float gv = tid < n ? gate[(size_t)(t0 + tid) * Hv + h] : 0.0f;
        #pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            float up = __shfl_up_sync(0xffffffffu, gv, o);
            if (lane >= o) gv += up;
        }
        sgc[tid] = gv;
        sbeta[tid] = tid < n ? beta[(size_t)(t0 + tid) * Hv + h] : 0.0f;
    }
    __syncthreads();
    if (tid >= 32 && tid < TC_C) sgc[tid] += sgc[31];
    __syncthreads();
    if (tid < TC_C) gcum[((size_t)h * nc + ci) * TC_C + tid] = sgc[tid];

    // k -> bf16 (sK), beta exp(gc) k -> bf16 (sKb); the leader stores k and q in bf16.
    // Every load of a tensor is issued before the first is used (one round trip per tensor).
    constexpr int NK = TC_C * DK / 4 / 128, NV = TC_C * DV / 4 / 128;   // float4 per thread
    {
        float4 kv[NK];
        #pragma unroll
        for (int i = 0; i < NK; i++) {
            int e = tid + i * 128, row = e / (DK / 4), c4 = e % (DK / 4);
            kv[i] = row < n ? __ldg(reinterpret_cast<const float4*>(k + (size_t)(t0 + row) * ldk + kh * DK) + c4) : make_float4(0.f, 0.f, 0.f, 0.f);
        }
        #pragma unroll
        for (int i = 0; i < NK; i++) {
            int e = tid + i * 128, row = e / (DK / 4), c4 = e % (DK / 4);
            float s = sbeta[row] * ex2_approx(sgc[row] * LOG2E);
            uint2 plain = make_uint2(pack_bf16(kv[i].x, kv[i].y), pack_bf16(kv[i].z, kv[i].w));
            uint2 low = make_uint2(pack_bf16_lo(kv[i].x, kv[i].y, plain.x), pack_bf16_lo(kv[i].z, kv[i].w, plain.y));
            *reinterpret_cast<uint2*>(&sK[row * LK + c4 * 4]) = plain;
            *reinterpret_cast<uint2*>(&sKl[row * LK + c4 * 4]) = low;
            *reinterpret_cast<uint2*>(&sKb[row * LK + c4 * 4]) = make_uint2(pack_bf16(kv[i].x * s, kv[i].y * s), pack_bf16(kv[i].z * s, kv[i].w * s));
            if (leader) {
                *reinterpret_cast<uint2*>(kb + (((size_t)kh * nc + ci) * TC_C + row) * DK + c4 * 4) = plain;
                *reinterpret_cast<uint2*>(kb + qk_lo + (((size_t)kh * nc + ci) * TC_C + row) * DK + c4 * 4) = low;
            }
        }
    }
    if (leader) {
        {
            float4 qv[NK];
            #pragma unroll
            for (int i = 0; i < NK; i++) {
                int e = tid + i * 128, row = e / (DK / 4), c4 = e % (DK / 4);
                qv[i] = row < n ? __ldg(reinterpret_cast<const float4*>(q + (size_t)(t0 + row) * ldq + kh * DK) + c4) : make_float4(0.f, 0.f, 0.f, 0.f);
            }
            #pragma unroll
            for (int i = 0; i < NK; i++) {
                int e = tid + i * 128, row = e / (DK / 4), c4 = e % (DK / 4);
                uint2 plain = make_uint2(pack_bf16(qv[i].x, qv[i].y), pack_bf16(qv[i].z, qv[i].w));
                *reinterpret_cast<uint2*>(qb + (((size_t)kh * nc + ci) * TC_C + row) * DK + c4 * 4) = plain;
                *reinterpret_cast<uint2*>(qb + qk_lo + (((size_t)kh * nc + ci) * TC_C + row) * DK + c4 * 4) =
                    make_uint2(pack_bf16_lo(qv[i].x, qv[i].y, plain.x), pack_bf16_lo(qv[i].z, qv[i].w, plain.y));
            }
        }
    }
    // beta v -> bf16 (sV)
    {
        float4 vv[NV];
        #pragma unroll
        for (int i = 0; i < NV; i++) {
            int e = tid + i * 128, row = e / (DV / 4), c4 = e % (DV / 4);
            vv[i] = row < n ? __ldg(reinterpret_cast<const float4*>(v + (size_t)(t0 + row) * ldv + h * DV) + c4) : make_float4(0.f, 0.f, 0.f, 0.f);
        }
        #pragma unroll
        for (int i = 0; i < NV; i++) {
            int e = tid + i * 128, row = e / (DV / 4), c4 = e % (DV / 4);
            float s = sbeta[row], x0 = vv[i].x * s, x1 = vv[i].y * s, x2 = vv[i].z * s, x3 = vv[i].w * s;
            uint2 plain = make_uint2(pack_bf16(x0, x1), pack_bf16(x2, x3));
            *reinterpret_cast<uint2*>(&sV[row * LV + c4 * 4]) = plain;
            *reinterpret_cast<uint2*>(&sVl[row * LV + c4 * 4]) = make_uint2(pack_bf16_lo(x0, x1, plain.x), pack_bf16_lo(x2, x3, plain.y));
        }
    }
    __syncthreads();

    // L = beta_i (K K^T)_ij exp(gc_i - gc_j), strictly lower; warp w owns rows 16w..16w+15.
    {
        float acc[8][4];
        #pragma unroll
        for (int nt = 0; nt < 8; nt++) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
        // K K^T in three bf16 terms (hi·hi + lo·hi + hi·lo): k keeps ~16 bits.
        const uint32_t aaddr = smem_u32(sK + (warp * 16 + (lane & 15)) * LK + (lane >> 4) * 8);
        const uint32_t baddr = smem_u32(sK + ((lane & 7) + ((lane >> 4) << 3)) * LK + ((lane >> 3) & 1) * 8);
        const uint32_t lo = (uint32_t)(TC_C * LK * 2);   // sKl - sK in bytes
        #pragma unroll
        for (int kk = 0; kk < DK / 16; kk++) {
            uint32_t a[4], al[4];
            ldsm_x4(a, aaddr + kk * 32);
            ldsm_x4(al, aaddr + lo + kk * 32);
            #pragma unroll
            for (int np = 0; np < 4; np++) {
                uint32_t bb[4], bl[4];
                ldsm_x4(bb, baddr + (np * 16 * LK + kk * 16) * 2);
                ldsm_x4(bl, baddr + lo + (np * 16 * LK + kk * 16) * 2);
                mma_16816(acc[2 * np], a, bb[0], bb[1]);
                mma_16816(acc[2 * np + 1], a, bb[2], bb[3]);
                mma_16816(acc[2 * np], al, bb[0], bb[1]);
                mma_16816(acc[2 * np + 1], al, bb[2], bb[3]);
                mma_16816(acc[2 * np], a, bl[0], bl[1]);
                mma_16816(acc[2 * np + 1], a, bl[2], bl[3]);
            }
        }
        #pragma unroll
        for (int nt = 0; nt < 8; nt++)
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                int i = warp * 16 + g + (e >= 2 ? 8 : 0), j = nt * 8 + 2 * t4 + (e & 1);
                sL[i * LF + j] = j < i ? sbeta[i] * acc[nt][e] * ex2_approx((sgc[i] - sgc[j]) * LOG2E) : 0.0f;
            }
    }
    __syncthreads();

    // Tm = (I + L)^-1. Diagonal 16x16 blocks: warp w inverts block w, lane (mod 16) = column j, kept in registers:
    // Tm[i][j] = -sum_{m<i} L[i][m] Tm[m][j] for i > j, Tm[j][j] = 1, zero above.
    {
        const int j = lane & 15, base = warp * 16;
        float col[16];
        #pragma unroll
        for (int i = 0; i < 16; i++) {
            float acc = 0.0f;
            #pragma unroll
            for (int m = 0; m < i; m++) acc = fmaf(sL[(base + i) * LF + base + m], col[m], acc);
            col[i] = i < j ? 0.0f : i == j ? 1.0f : -acc;
        }
        if (lane < 16) {
            #pragma unroll
            for (int i = 0; i < 16; i++) sT[(base + i) * LT2 + base + j] = col[i];
        }
    }
    __syncthreads();
    // Off-diagonal blocks by distance d: Tm_IJ = -Tm_II (sum_{M=J}^{I-1} L_IM Tm_MJ), I = J + d. A thread computes two
    // adjacent columns (float2 reads of Tm and X; the L and Tm_II rows are broadcasts within a warp).
    #pragma unroll
    for (int d = 1; d < 4; d++) {
        const int blocks = 4 - d;
        for (int e = tid; e < blocks * 128; e += 128) {
            int J = e >> 7, I = J + d, rr = (e >> 3) & 15, cc = (e & 7) * 2;
            const float* lrow = sL + (16 * I + rr) * LF;
            float2 acc = make_float2(0.0f, 0.0f);
            for (int m = 16 * J; m < 16 * I; m++) {
                float l = lrow[m];
                float2 t = *reinterpret_cast<const float2*>(&sT[m * LT2 + 16 * J + cc]);
                acc.x = fmaf(l, t.x, acc.x);
                acc.y = fmaf(l, t.y, acc.y);
            }
            *reinterpret_cast<float2*>(&sX[(J * 16 + rr) * LX + cc]) = acc;
        }
        __syncthreads();
        for (int e = tid; e < blocks * 128; e += 128) {
            int J = e >> 7, I = J + d, rr = (e >> 3) & 15, cc = (e & 7) * 2;
            const float* trow = sT + (16 * I + rr) * LT2 + 16 * I;
            float2 acc = make_float2(0.0f, 0.0f);
            #pragma unroll
            for (int m = 0; m < 16; m++) {
                float t = trow[m];
                float2 x = *reinterpret_cast<const float2*>(&sX[(J * 16 + m) * LX + cc]);
                acc.x = fmaf(t, x.x, acc.x);
                acc.y = fmaf(t, x.y, acc.y);
            }
            *reinterpret_cast<float2*>(&sT[(16 * I + rr) * LT2 + 16 * J + cc]) = make_float2(-acc.x, -acc.y);
        }
        __syncthreads();
    }
    // Tm -> bf16 hi + lo (sTb, sTl), zero above the diagonal (never written in sT): W and U take two mmas per
    // k-step, so Tm enters them with ~16 bits.
    for (int e = tid; e < TC_C * TC_C / 2; e += 128) {
        int i = e / (TC_C / 2), j = (e % (TC_C / 2)) * 2;
        float lo = j <= i ? sT[i * LT2 + j] : 0.0f, hi = j + 1 <= i ? sT[i * LT2 + j + 1] : 0.0f;
        uint32_t packed = pack_bf16(lo, hi);
        *reinterpret_cast<uint32_t*>(&sTb[i * LT + j]) = packed;
        *reinterpret_cast<uint32_t*>(&sTl[i * LT + j]) = pack_bf16_lo(lo, hi, packed);
    }
    __syncthreads();

    // W = Tm (beta exp(gc) K), U = Tm (beta V): A = Tm rows of this warp, B = [s][d] tiles through ldmatrix.trans.
    const uint32_t taddr = smem_u32(sTb + (warp * 16 + (lane & 15)) * LT + (lane >> 4) * 8);
    const uint32_t tladdr = smem_u32(sTl + (warp * 16 + (lane & 15)) * LT + (lane >> 4) * 8);
    uint32_t ta[4][4], tl[4][4];
    #pragma unroll
    for (int ks = 0; ks < 4; ks++) {
        ldsm_x4(ta[ks], taddr + ks * 32);
        ldsm_x4(tl[ks], tladdr + ks * 32);
    }
    const int row0 = warp * 16 + g;
    {
        float acc[DK / 8][4];
        #pragma unroll
        for (int nt = 0; nt < DK / 8; nt++) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
        const uint32_t baddr = smem_u32(sKb + ((lane & 7) + ((lane >> 3) & 1) * 8) * LK + (lane >> 4) * 8);
        #pragma unroll
        for (int ks = 0; ks < 4; ks++)
            #pragma unroll
            for (int np = 0; np < DK / 16; np++) {
                uint32_t bb[4];
                ldsm_x4_trans(bb, baddr + (ks * 16 * LK + np * 16) * 2);
                mma_16816(acc[2 * np], ta[ks], bb[0], bb[1]);
                mma_16816(acc[2 * np + 1], ta[ks], bb[2], bb[3]);
                mma_16816(acc[2 * np], tl[ks], bb[0], bb[1]);
                mma_16816(acc[2 * np + 1], tl[ks], bb[2], bb[3]);
            }
        unsigned short* wt = w_ws + ((size_t)h * nc + ci) * TC_C * DK;
        #pragma unroll
        for (int nt = 0; nt < DK / 8; nt++) {
            *reinterpret_cast<uint32_t*>(wt + row0 * DK + nt * 8 + 2 * t4) = pack_bf16(acc[nt][0], acc[nt][1]);
            *reinterpret_cast<uint32_t*>(wt + (row0 + 8) * DK + nt * 8 + 2 * t4) = pack_bf16(acc[nt][2], acc[nt][3]);
        }
    }
    {
        float acc[DV / 8][4];
        #pragma unroll
        for (int nt = 0; nt < DV / 8; nt++) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
        // U = Tm (beta V) in three terms (Tm and beta v each hi + lo), stored hi + lo: v keeps ~16 bits up to v_new.
        const uint32_t baddr = smem_u32(sV + ((lane & 7) + ((lane >> 3) & 1) * 8) * LV + (lane >> 4) * 8);
        const uint32_t lo = (uint32_t)(TC_C * LV * 2);   // sVl - sV in bytes
        #pragma unroll
        for (int ks = 0; ks < 4; ks++)
            #pragma unroll
            for (int np = 0; np < DV / 16; np++) {
                uint32_t bb[4], bl[4];
                ldsm_x4_trans(bb, baddr + (ks * 16 * LV + np * 16) * 2);
                ldsm_x4_trans(bl, baddr + lo + (ks * 16 * LV + np * 16) * 2);
                mma_16816(acc[2 * np], ta[ks], bb[0], bb[1]);
                mma_16816(acc[2 * np + 1], ta[ks], bb[2], bb[3]);
                mma_16816(acc[2 * np], tl[ks], bb[0], bb[1]);
                mma_16816(acc[2 * np + 1], tl[ks], bb[2], bb[3]);
                mma_16816(acc[2 * np], ta[ks], bl[0], bl[1]);
                mma_16816(acc[2 * np + 1], ta[ks], bl[2], bl[3]);
            }
        unsigned short* ut = u_ws + ((size_t)h * nc + ci) * TC_C * DV;
        #pragma unroll
        for (int nt = 0; nt < DV / 8; nt++) {
            uint32_t h0 = pack_bf16(acc[nt][0], acc[nt][1]), h1 = pack_bf16(acc[nt][2], acc[nt][3]);
            *reinterpret_cast<uint32_t*>(ut + row0 * DV + nt * 8 + 2 * t4) = h0;
            *reinterpret_cast<uint32_t*>(ut + (row0 + 8) * DV + nt * 8 + 2 * t4) = h1;
            *reinterpret_cast<uint32_t*>(ut + u_lo + row0 * DV + nt * 8 + 2 * t4) = pack_bf16_lo(acc[nt][0], acc[nt][1], h0);
            *reinterpret_cast<uint32_t*>(ut + u_lo + (row0 + 8) * DV + nt * 8 + 2 * t4) = pack_bf16_lo(acc[nt][2], acc[nt][3], h1);
        }
    }
}

#define GDN_TC_DISPATCH(FN, ...)                                                           \
    switch (Dk * 1000 + Dv) {                                                              \
        case 32032: FN<32, 32>(__VA_ARGS__); break;                                        \
        case 32064: FN<32, 64>(__VA_ARGS__); break;                                        \
        case 32128: FN<32, 128>(__VA_ARGS__); break;                                       \
        case 64032: FN<64, 32>(__VA_ARGS__); break;                                        \
        case 64064: FN<64, 64>(__VA_ARGS__); break;                                        \
        case 64128: FN<64, 128>(__VA_ARGS__); break;                                       \
        case 128032: FN<128, 32>(__VA_ARGS__); break;                                      \
        case 128064: FN<128, 64>(__VA_ARGS__); break;                                      \
        case 128128: FN<128, 128>(__VA_ARGS__); break;                                     \
        default: break;                                                                    \
    }

extern "C" __global__ void __launch_bounds__(128)
gdn_tc_prepare(unsigned short* __restrict__ qb, unsigned short* __restrict__ kb, unsigned short* __restrict__ w_ws,
               unsigned short* __restrict__ u_ws, float* __restrict__ gcum,
               const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
               const float* __restrict__ gate, const float* __restrict__ beta, const int* __restrict__ cu_seqlens,
               const int* __restrict__ chunk_indices, int Hk, int Hv, int Dk, int Dv, int ldq, int ldk, int ldv) {
    GDN_TC_DISPATCH(prepare_impl, qb, kb, w_ws, u_ws, gcum, q, k, v, gate, beta, cu_seqlens, chunk_indices, Hk, Hv, ldq, ldk, ldv)
}

// ------------------------------------------------------------- state pass
#define SP_BV 32
#define SP_STAGES 3

// dynamic smem: 3 * (2*64*(Dk+8)*2 + 2*64*40*2 + 64*4)
template <int DK>
__device__ __forceinline__ void state_pass_impl(unsigned short* __restrict__ h_ws, unsigned short* __restrict__ vnew,
        float* __restrict__ state_pool, const unsigned short* __restrict__ kb, const unsigned short* __restrict__ w_ws,
        const unsigned short* __restrict__ u_ws, const float* __restrict__ gcum, const int* __restrict__ chunk_offsets,
        const int* __restrict__ slot_ids, int nc, int Hk, int Hv, int Dv) {
    constexpr int LK = DK + 8, LU = SP_BV + 8;
    constexpr int STAGE = 2 * TC_C * LK * 2 + 2 * TC_C * LU * 2 + TC_C * 4;   // bytes
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t4 = lane & 3;
    const int bv0 = blockIdx.x * SP_BV, h = blockIdx.y, b = blockIdx.z, kh = h / (Hv / Hk);
    const int ci0 = chunk_offsets[b], nch = chunk_offsets[b + 1] - ci0;
    if (nch <= 0) return;
    float* st_g = state_pool + ((size_t)slot_ids[b] * Hv + h) * DK * Dv;
    const size_t hv_lo = (size_t)Hv * nc * TC_C * Dv;   // lo halves of u_ws and vnew follow the hi halves
    const int bvw = bv0 + warp * 16;   // this warp's first S^T row (value column)

    // Copy of chunk i into stage i % 3: W, K (64 x DK), U (64 x 32 slice), gcum (64).
    auto issue = [&](int i) {
        unsigned char* st = gdn_tc_smem + (i % SP_STAGES) * STAGE;
        unsigned short* sW = reinterpret_cast<unsigned short*>(st);
        unsigned short* sK = sW + TC_C * LK;
        unsigned short* sU = sK + TC_C * LK;
        unsigned short* sUl = sU + TC_C * LU;
        float* sG = reinterpret_cast<float*>(sUl + TC_C * LU);
        const size_t cidx = (size_t)ci0 + i;
        const unsigned short* wsrc = w_ws + ((size_t)h * nc + cidx) * TC_C * DK;
        const unsigned short* ksrc = kb + ((size_t)kh * nc + cidx) * TC_C * DK;
        for (int e = tid; e < TC_C * DK / 8; e += 64) {
            int row = e / (DK / 8), c8 = e % (DK / 8);
            cp_async16(smem_u32(sW + row * LK + c8 * 8), wsrc + row * DK + c8 * 8, 16);
            cp_async16(smem_u32(sK + row * LK + c8 * 8), ksrc + row * DK + c8 * 8, 16);
        }
        const unsigned short* usrc = u_ws + ((size_t)h * nc + cidx) * TC_C * Dv + bv0;
        for (int e = tid; e < TC_C * SP_BV / 8; e += 64) {
            int row = e / (SP_BV / 8), c8 = e % (SP_BV / 8);
            cp_async16(smem_u32(sU + row * LU + c8 * 8), usrc + (size_t)row * Dv + c8 * 8, 16);
            cp_async16(smem_u32(sUl + row * LU + c8 * 8), usrc + hv_lo + (size_t)row * Dv + c8 * 8, 16);
        }
        if (tid < TC_C / 4) cp_async16(smem_u32(sG + tid * 4), gcum + ((size_t)h * nc + cidx) * TC_C + tid * 4, 16);
    };

    issue(0);
    cp_async_commit();
    if (nch > 1) issue(1);
    cp_async_commit();

    // S^T rows bvw + g (+8), columns dk = 8 nt + 2 t4 (+1): the state [dk][bv] read transposed.
    float st[DK / 8][4];
    #pragma unroll
    for (int nt = 0; nt < DK / 8; nt++)
        #pragma unroll
        for (int e = 0; e < 4; e++) {
            int bv = bvw + g + (e >= 2 ? 8 : 0), dk = nt * 8 + 2 * t4 + (e & 1);
            st[nt][e] = st_g[(size_t)dk * Dv + bv];
        }

    for (int i = 0; i < nch; i++) {
        cp_async_wait<1>();
        __syncthreads();   // chunk i visible; every warp is done with chunk i-1's stage
        if (i + 2 < nch) issue(i + 2);
        cp_async_commit();   // possibly empty: keeps one group per chunk, so wait_group 1 means "chunk i"
        unsigned char* stg = gdn_tc_smem + (i % SP_STAGES) * STAGE;
        unsigned short* sW = reinterpret_cast<unsigned short*>(stg);
        unsigned short* sK = sW + TC_C * LK;
        unsigned short* sU = sK + TC_C * LK;
        const float* sG = reinterpret_cast<const float*>(sU + 2 * TC_C * LU);
        const size_t cidx = (size_t)ci0 + i;

        // S^T (start of chunk) as bf16 A fragments; also stored as h for the output pass.
        // S^T enters v_new as hi + lo (two mmas), so its bf16 rounding does not compound over the chunks.
        uint32_t sa[DK / 16][4], sl[DK / 16][4];
        unsigned short* hrow = h_ws + (((size_t)h * nc + cidx) * Dv + bvw + g) * DK + 2 * t4;
        #pragma unroll
        for (int kk = 0; kk < DK / 16; kk++) {
            sa[kk][0] = pack_bf16(st[2 * kk][0], st[2 * kk][1]);
            sa[kk][1] = pack_bf16(st[2 * kk][2], st[2 * kk][3]);
            sa[kk][2] = pack_bf16(st[2 * kk + 1][0], st[2 * kk + 1][1]);
            sa[kk][3] = pack_bf16(st[2 * kk + 1][2], st[2 * kk + 1][3]);
            sl[kk][0] = pack_bf16_lo(st[2 * kk][0], st[2 * kk][1], sa[kk][0]);
            sl[kk][1] = pack_bf16_lo(st[2 * kk][2], st[2 * kk][3], sa[kk][1]);
            sl[kk][2] = pack_bf16_lo(st[2 * kk + 1][0], st[2 * kk + 1][1], sa[kk][2]);
            sl[kk][3] = pack_bf16_lo(st[2 * kk + 1][2], st[2 * kk + 1][3], sa[kk][3]);
            *reinterpret_cast<uint32_t*>(hrow + kk * 16) = sa[kk][0];
            *reinterpret_cast<uint32_t*>(hrow + 8 * DK + kk * 16) = sa[kk][1];
            *reinterpret_cast<uint32_t*>(hrow + kk * 16 + 8) = sa[kk][2];
            *reinterpret_cast<uint32_t*>(hrow + 8 * DK + kk * 16 + 8) = sa[kk][3];
        }

        // v_new^T = U^T - S^T W^T  (16 x 64 per warp)
        float vn[8][4];
        #pragma unroll
        for (int nt = 0; nt < 8; nt++) vn[nt][0] = vn[nt][1] = vn[nt][2] = vn[nt][3] = 0.0f;
        {
            const uint32_t waddr = smem_u32(sW + ((lane & 7) + ((lane >> 4) << 3)) * LK + ((lane >> 3) & 1) * 8);
            #pragma unroll
            for (int kk = 0; kk < DK / 16; kk++)
                #pragma unroll
                for (int np = 0; np < 4; np++) {
                    uint32_t bb[4];
                    ldsm_x4(bb, waddr + (np * 16 * LK + kk * 16) * 2);
                    mma_16816(vn[2 * np], sa[kk], bb[0], bb[1]);
                    mma_16816(vn[2 * np + 1], sa[kk], bb[2], bb[3]);
                    mma_16816(vn[2 * np], sl[kk], bb[0], bb[1]);
                    mma_16816(vn[2 * np + 1], sl[kk], bb[2], bb[3]);
                }
        }
        // U^T in the accumulator layout: ldmatrix.trans of U [c][bv] gives (bv = g, c = 2 t4 ..) per 8x8 block.
        {
            const uint32_t uaddr = smem_u32(sU + ((lane & 7) + ((lane >> 4) << 3)) * LU + warp * 16 + ((lane >> 3) & 1) * 8);
            #pragma unroll
            for (int np = 0; np < 4; np++) {
                uint32_t uu[4], ul[4];
                ldsm_x4_trans(uu, uaddr + np * 16 * LU * 2);
                ldsm_x4_trans(ul, uaddr + (TC_C + np * 16) * LU * 2);   // the lo half (sUl)
                #pragma unroll
                for (int x = 0; x < 2; x++) {
                    float u0, u1, u2, u3, l0, l1, l2, l3;
                    bf16x2_to_f32(uu[2 * x], u0, u1);
                    bf16x2_to_f32(uu[2 * x + 1], u2, u3);
                    bf16x2_to_f32(ul[2 * x], l0, l1);
                    bf16x2_to_f32(ul[2 * x + 1], l2, l3);
                    float* a = vn[2 * np + x];
                    a[0] = (u0 + l0) - a[0];
                    a[1] = (u1 + l1) - a[1];
                    a[2] = (u2 + l2) - a[2];
                    a[3] = (u3 + l3) - a[3];
                }
            }
        }
        // v_new for the output pass: vnew [bv][c] of this chunk.
        {
            unsigned short* vrow = vnew + (((size_t)h * nc + cidx) * Dv + bvw + g) * TC_C + 2 * t4;
            #pragma unroll
            for (int nt = 0; nt < 8; nt++) {   // hi + lo
                uint32_t h0 = pack_bf16(vn[nt][0], vn[nt][1]), h1 = pack_bf16(vn[nt][2], vn[nt][3]);
                *reinterpret_cast<uint32_t*>(vrow + nt * 8) = h0;
                *reinterpret_cast<uint32_t*>(vrow + 8 * TC_C + nt * 8) = h1;
                *reinterpret_cast<uint32_t*>(vrow + hv_lo + nt * 8) = pack_bf16_lo(vn[nt][0], vn[nt][1], h0);
                *reinterpret_cast<uint32_t*>(vrow + hv_lo + 8 * TC_C + nt * 8) = pack_bf16_lo(vn[nt][2], vn[nt][3], h1);
            }
        }
        // S^T = exp(gC) S^T + (v_new^T diag(exp(gC - gc))) K
        const float gC = sG[TC_C - 1];
        const float dC = ex2_approx(gC * LOG2E);
        #pragma unroll
        for (int nt = 0; nt < DK / 8; nt++) {
            st[nt][0] *= dC;
            st[nt][1] *= dC;
            st[nt][2] *= dC;
            st[nt][3] *= dC;
        }
        uint32_t pa[4][4], pl[4][4];   // decayed v_new^T as hi + lo, like S^T above
        #pragma unroll
        for (int nt = 0; nt < 8; nt++) {
            float f0 = ex2_approx((gC - sG[nt * 8 + 2 * t4]) * LOG2E), f1 = ex2_approx((gC - sG[nt * 8 + 2 * t4 + 1]) * LOG2E);
            float x0 = vn[nt][0] * f0, x1 = vn[nt][1] * f1, x2 = vn[nt][2] * f0, x3 = vn[nt][3] * f1;
            pa[nt >> 1][(nt & 1) * 2] = pack_bf16(x0, x1);
            pa[nt >> 1][(nt & 1) * 2 + 1] = pack_bf16(x2, x3);
            pl[nt >> 1][(nt & 1) * 2] = pack_bf16_lo(x0, x1, pa[nt >> 1][(nt & 1) * 2]);
            pl[nt >> 1][(nt & 1) * 2 + 1] = pack_bf16_lo(x2, x3, pa[nt >> 1][(nt & 1) * 2 + 1]);
        }
        {
            const uint32_t kaddr = smem_u32(sK + ((lane & 7) + ((lane >> 3) & 1) * 8) * LK + (lane >> 4) * 8);
            #pragma unroll
            for (int ks = 0; ks < 4; ks++)
                #pragma unroll
                for (int np = 0; np < DK / 16; np++) {
                    uint32_t bb[4];
                    ldsm_x4_trans(bb, kaddr + (ks * 16 * LK + np * 16) * 2);
                    mma_16816(st[2 * np], pa[ks], bb[0], bb[1]);
                    mma_16816(st[2 * np + 1], pa[ks], bb[2], bb[3]);
                    mma_16816(st[2 * np], pl[ks], bb[0], bb[1]);
                    mma_16816(st[2 * np + 1], pl[ks], bb[2], bb[3]);
                }
        }
    }

    #pragma unroll
    for (int nt = 0; nt < DK / 8; nt++)
        #pragma unroll
        for (int e = 0; e < 4; e++) {
            int bv = bvw + g + (e >= 2 ? 8 : 0), dk = nt * 8 + 2 * t4 + (e & 1);
            st_g[(size_t)dk * Dv + bv] = st[nt][e];
        }
}

extern "C" __global__ void __launch_bounds__(64)
gdn_tc_state_pass(unsigned short* __restrict__ h_ws, unsigned short* __restrict__ vnew, float* __restrict__ state_pool,
                  const unsigned short* __restrict__ kb, const unsigned short* __restrict__ w_ws,
                  const unsigned short* __restrict__ u_ws, const float* __restrict__ gcum,
                  const int* __restrict__ chunk_offsets, const int* __restrict__ slot_ids, int nc, int Hk, int Hv, int Dk, int Dv) {
    switch (Dk) {
        case 32: state_pass_impl<32>(h_ws, vnew, state_pool, kb, w_ws, u_ws, gcum, chunk_offsets, slot_ids, nc, Hk, Hv, Dv); break;
        case 64: state_pass_impl<64>(h_ws, vnew, state_pool, kb, w_ws, u_ws, gcum, chunk_offsets, slot_ids, nc, Hk, Hv, Dv); break;
        case 128: state_pass_impl<128>(h_ws, vnew, state_pool, kb, w_ws, u_ws, gcum, chunk_offsets, slot_ids, nc, Hk, Hv, Dv); break;
        default: break;
    }
}

// ----------------------------------------------------------------- output
// dynamic smem: 4*64*(Dk+8)*2 + Dv*(Dk+8)*2 + 2*Dv*72*2 + 64*4
template <int DK, int DV>
__device__ __forceinline__ void output_impl(float* __restrict__ o, const unsigned short* __restrict__ qb,
        const unsigned short* __restrict__ kb, const unsigned short* __restrict__ h_ws, const unsigned short* __restrict__ vnew,
        const float* __restrict__ gcum, const int* __restrict__ cu_seqlens, const int* __restrict__ chunk_indices,
        int Hk, int Hv, int ldo) {
    constexpr int LK = DK + 8, LN = TC_C + 8;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t4 = lane & 3;
    const int ci = blockIdx.x, nc = gridDim.x, h = blockIdx.y, kh = h / (Hv / Hk);
    const int b = chunk_indices[2 * ci], c = chunk_indices[2 * ci + 1];
    const int t0 = cu_seqlens[b] + TC_C * c, n = min(TC_C, cu_seqlens[b + 1] - t0);
    // q, k, v_new as hi + lo tiles (the lo one TC_C*LK or DV*LN elements after its hi one): three-term products.
    unsigned short* sQ = reinterpret_cast<unsigned short*>(gdn_tc_smem);
    unsigned short* sK = sQ + 2 * TC_C * LK;
    unsigned short* sH = sK + 2 * TC_C * LK;
    unsigned short* sN = sH + DV * LK;
    float* sG = reinterpret_cast<float*>(sN + 2 * DV * LN);
    const size_t qk_lo = (size_t)Hk * nc * TC_C * DK, n_lo = (size_t)Hv * nc * DV * TC_C;

    const unsigned short* qsrc = qb + ((size_t)kh * nc + ci) * TC_C * DK;
    const unsigned short* ksrc = kb + ((size_t)kh * nc + ci) * TC_C * DK;
    for (int e = tid; e < TC_C * DK / 8; e += 128) {
        int row = e / (DK / 8), c8 = e % (DK / 8);
        cp_async16(smem_u32(sQ + row * LK + c8 * 8), qsrc + row * DK + c8 * 8, 16);
        cp_async16(smem_u32(sK + row * LK + c8 * 8), ksrc + row * DK + c8 * 8, 16);
        cp_async16(smem_u32(sQ + (TC_C + row) * LK + c8 * 8), qsrc + qk_lo + row * DK + c8 * 8, 16);
        cp_async16(smem_u32(sK + (TC_C + row) * LK + c8 * 8), ksrc + qk_lo + row * DK + c8 * 8, 16);
    }
    const unsigned short* hsrc = h_ws + ((size_t)h * nc + ci) * DV * DK;
    for (int e = tid; e < DV * DK / 8; e += 128) {
        int row = e / (DK / 8), c8 = e % (DK / 8);
        cp_async16(smem_u32(sH + row * LK + c8 * 8), hsrc + row * DK + c8 * 8, 16);
    }
    const unsigned short* nsrc = vnew + ((size_t)h * nc + ci) * DV * TC_C;
    for (int e = tid; e < DV * TC_C / 8; e += 128) {
        int row = e / (TC_C / 8), c8 = e % (TC_C / 8);
        cp_async16(smem_u32(sN + row * LN + c8 * 8), nsrc + row * TC_C + c8 * 8, 16);
        cp_async16(smem_u32(sN + (DV + row) * LN + c8 * 8), nsrc + n_lo + row * TC_C + c8 * 8, 16);
    }
    if (tid < TC_C / 4) cp_async16(smem_u32(sG + tid * 4), gcum + ((size_t)h * nc + ci) * TC_C + tid * 4, 16);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();

    const int r0 = warp * 16 + g;
    uint32_t qa[DK / 16][4], ql[DK / 16][4];
    const uint32_t qaddr = smem_u32(sQ + (warp * 16 + (lane & 15)) * LK + (lane >> 4) * 8);
    #pragma unroll
    for (int kk = 0; kk < DK / 16; kk++) {
        ldsm_x4(qa[kk], qaddr + kk * 32);
        ldsm_x4(ql[kk], qaddr + TC_C * LK * 2 + kk * 32);
    }
    const uint32_t boff = (((lane & 7) + ((lane >> 4) << 3)) * LK + ((lane >> 3) & 1) * 8) * 2;

    // P = (Q K^T) . exp(gc_i - gc_j), j <= i
    float s[8][4];
    #pragma unroll
    for (int nt = 0; nt < 8; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
    #pragma unroll
    for (int kk = 0; kk < DK / 16; kk++)
        #pragma unroll
        for (int np = 0; np < 4; np++) {
            uint32_t bb[4], bl[4];
            ldsm_x4(bb, smem_u32(sK) + boff + (np * 16 * LK + kk * 16) * 2);
            ldsm_x4(bl, smem_u32(sK) + boff + ((TC_C + np * 16) * LK + kk * 16) * 2);
            mma_16816(s[2 * np], qa[kk], bb[0], bb[1]);
            mma_16816(s[2 * np + 1], qa[kk], bb[2], bb[3]);
            mma_16816(s[2 * np], ql[kk], bb[0], bb[1]);
            mma_16816(s[2 * np + 1], ql[kk], bb[2], bb[3]);
            mma_16816(s[2 * np], qa[kk], bl[0], bl[1]);
            mma_16816(s[2 * np + 1], qa[kk], bl[2], bl[3]);
        }
    const float g0 = sG[r0], g1 = sG[r0 + 8];
    #pragma unroll
    for (int nt = 0; nt < 8; nt++)
        #pragma unroll
        for (int e = 0; e < 4; e++) {
            int i = e < 2 ? r0 : r0 + 8, j = nt * 8 + 2 * t4 + (e & 1);
            s[nt][e] = j <= i ? s[nt][e] * ex2_approx(((e < 2 ? g0 : g1) - sG[j]) * LOG2E) : 0.0f;
        }

    // O = exp(gc_i) (Q S) + P v_new
    float acc[DV / 8][4];
    #pragma unroll
    for (int nt = 0; nt < DV / 8; nt++) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
    #pragma unroll
    for (int kk = 0; kk < DK / 16; kk++)
        #pragma unroll
        for (int np = 0; np < DV / 16; np++) {
            uint32_t bb[4];
            ldsm_x4(bb, smem_u32(sH) + boff + (np * 16 * LK + kk * 16) * 2);
            mma_16816(acc[2 * np], qa[kk], bb[0], bb[1]);
            mma_16816(acc[2 * np + 1], qa[kk], bb[2], bb[3]);
            mma_16816(acc[2 * np], ql[kk], bb[0], bb[1]);
            mma_16816(acc[2 * np + 1], ql[kk], bb[2], bb[3]);
        }
    const float e0 = ex2_approx(g0 * LOG2E), e1 = ex2_approx(g1 * LOG2E);
    #pragma unroll
    for (int nt = 0; nt < DV / 8; nt++) {
        acc[nt][0] *= e0;
        acc[nt][1] *= e0;
        acc[nt][2] *= e1;
        acc[nt][3] *= e1;
    }
    const uint32_t noff = (((lane & 7) + ((lane >> 4) << 3)) * LN + ((lane >> 3) & 1) * 8) * 2;
    #pragma unroll
    for (int ks = 0; ks < 4; ks++) {
        // P as hi + lo (two mmas): its rounding would otherwise be a third of the output's error.
        uint32_t pa[4] = {pack_bf16(s[2 * ks][0], s[2 * ks][1]), pack_bf16(s[2 * ks][2], s[2 * ks][3]),
                          pack_bf16(s[2 * ks + 1][0], s[2 * ks + 1][1]), pack_bf16(s[2 * ks + 1][2], s[2 * ks + 1][3])};
        uint32_t pl[4] = {pack_bf16_lo(s[2 * ks][0], s[2 * ks][1], pa[0]), pack_bf16_lo(s[2 * ks][2], s[2 * ks][3], pa[1]),
                          pack_bf16_lo(s[2 * ks + 1][0], s[2 * ks + 1][1], pa[2]), pack_bf16_lo(s[2 * ks + 1][2], s[2 * ks + 1][3], pa[3])};
        #pragma unroll
        for (int np = 0; np < DV / 16; np++) {
            uint32_t bb[4], bl[4];
            ldsm_x4(bb, smem_u32(sN) + noff + (np * 16 * LN + ks * 16) * 2);
            ldsm_x4(bl, smem_u32(sN) + noff + ((DV + np * 16) * LN + ks * 16) * 2);
            mma_16816(acc[2 * np], pa, bb[0], bb[1]);
            mma_16816(acc[2 * np + 1], pa, bb[2], bb[3]);
            mma_16816(acc[2 * np], pl, bb[0], bb[1]);
            mma_16816(acc[2 * np + 1], pl, bb[2], bb[3]);
            mma_16816(acc[2 * np], pa, bl[0], bl[1]);
            mma_16816(acc[2 * np + 1], pa, bl[2], bl[3]);
        }
    }
    #pragma unroll
    for (int half = 0; half < 2; half++) {
        int row = r0 + 8 * half;
        if (row >= n) continue;
        float* orow = o + (size_t)(t0 + row) * ldo + (size_t)h * DV + 2 * t4;
        #pragma unroll
        for (int nt = 0; nt < DV / 8; nt++)
            *reinterpret_cast<float2*>(orow + nt * 8) = make_float2(acc[nt][2 * half], acc[nt][2 * half + 1]);
    }
}

extern "C" __global__ void __launch_bounds__(128)
gdn_tc_output(float* __restrict__ o, const unsigned short* __restrict__ qb, const unsigned short* __restrict__ kb,
              const unsigned short* __restrict__ h_ws, const unsigned short* __restrict__ vnew, const float* __restrict__ gcum,
              const int* __restrict__ cu_seqlens, const int* __restrict__ chunk_indices, int Hk, int Hv, int Dk, int Dv, int ldo) {
    GDN_TC_DISPATCH(output_impl, o, qb, kb, h_ws, vnew, gcum, cu_seqlens, chunk_indices, Hk, Hv, ldo)
}
