// One 64x64 output tile of C = A . B^T on the tensor cores (mma.sync
// m16n8k16, bf16 in, fp32 accumulate), shared by the dense GEMM and the
// grouped expert GEMM.
//   A: fp32 activations, row r of the tile is X[arow[r] * ldx + k] (arow < 0:
//      zero row). Each value is split into hi + mid + lo bf16 (see bf16.cuh)
//      and all three are multiplied, so the result keeps fp32 accuracy.
//   B: bf16 weights [n][k] (k contiguous) = exactly the "col" operand layout
//      of mma.row.col, so a weight row is copied to shared memory as is.
//      Row c of the tile is W[brow[c] * ldw + k] (brow < 0: zero row).
// Block = 128 threads = 4 warps in a 2x2 grid, each warp owns 32x32 of the
// tile = 2 (m16) x 4 (n8) accumulator fragments. K is walked in steps of 32.
// Accumulator layout (PTX ISA m16n8 C fragment): acc[mi][ni][e] is
//   row = wm*32 + mi*16 + (lane>>2) + (e>=2 ? 8 : 0)
//   col = wn*32 + ni*8 + 2*(lane&3) + (e&1),   wm = warp>>1, wn = warp&1.
// Not pipelined (no cp.async double buffering yet): one stage, two barriers
// per 32-wide K step.
#pragma once
#include "bf16.cuh"

#define MT_BM 64
#define MT_BN 64
#define MT_BK 32
#define MT_LDS (MT_BK + 8)  // +8 halves: fragment loads hit 32 distinct banks

struct MmaTileSmem {
    unsigned short a_hi[MT_BM * MT_LDS];
    unsigned short a_mid[MT_BM * MT_LDS];
    unsigned short a_lo[MT_BM * MT_LDS];
    unsigned short b[MT_BN * MT_LDS];
    int arow[MT_BM];
    int brow[MT_BN];
};

__device__ __forceinline__ void mma_bf16_16816(float* c, const unsigned int* a, const unsigned int* b) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ void mma_tile_zero(float acc[2][4][4]) {
    #pragma unroll
    for (int i = 0; i < 2; i++)
        #pragma unroll
        for (int j = 0; j < 4; j++)
            #pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;
}

// s.arow / s.brow must be filled and visible (__syncthreads) before the call.
__device__ __forceinline__ void mma_tile_64x64(float acc[2][4][4], MmaTileSmem& s,
                                               const float* __restrict__ X, int ldx,
                                               const unsigned short* __restrict__ W, int ldw, int K) {
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp >> 1, wn = warp & 1, g = lane >> 2, q = lane & 3;
    const bool xvec = ((ldx & 3) == 0) && ((((size_t)X) & 15) == 0);
    const bool wvec = ((ldw & 7) == 0) && ((((size_t)W) & 15) == 0);

    for (int k0 = 0; k0 < K; k0 += MT_BK) {
        // A: 64 rows x 32 fp32 -> hi/mid/lo bf16; 4 float4 per thread
        #pragma unroll
        for (int i = 0; i < 4; i++) {
            int idx = tid + 128 * i, r = idx >> 3, k = k0 + (idx & 7) * 4;
            int ar = s.arow[r];
            float v[4] = {0.f, 0.f, 0.f, 0.f};
            if (ar >= 0) {
                const float* src = X + (size_t)ar * ldx + k;
                if (xvec && k + 3 < K) {
                    float4 f = __ldg(reinterpret_cast<const float4*>(src));
                    v[0] = f.x; v[1] = f.y; v[2] = f.z; v[3] = f.w;
                } else {
                    #pragma unroll
                    for (int j = 0; j < 4; j++) if (k + j < K) v[j] = __ldg(src + j);
                }
            }
            unsigned short h[4], m[4], l[4];
            #pragma unroll
            for (int j = 0; j < 4; j++) f32_split3_bf16(v[j], h[j], m[j], l[j]);
            int o = r * MT_LDS + (idx & 7) * 4;
            *reinterpret_cast<uint2*>(&s.a_hi[o]) = make_uint2(h[0] | ((unsigned)h[1] << 16), h[2] | ((unsigned)h[3] << 16));
            *reinterpret_cast<uint2*>(&s.a_mid[o]) = make_uint2(m[0] | ((unsigned)m[1] << 16), m[2] | ((unsigned)m[3] << 16));
            *reinterpret_cast<uint2*>(&s.a_lo[o]) = make_uint2(l[0] | ((unsigned)l[1] << 16), l[2] | ((unsigned)l[3] << 16));
        }
        // B: 64 weight rows x 32 bf16; 2 x 128-bit per thread
        #pragma unroll
        for (int i = 0; i < 2; i++) {
            int idx = tid + 128 * i, r = idx >> 2, k = k0 + (idx & 3) * 8;
            int br = s.brow[r];
            uint4 v = make_uint4(0, 0, 0, 0);
            if (br >= 0) {
                const unsigned short* src = W + (size_t)br * ldw + k;
                if (wvec && k + 7 < K) {
                    v = __ldg(reinterpret_cast<const uint4*>(src));
                } else {
                    unsigned short e[8];
                    #pragma unroll
                    for (int j = 0; j < 8; j++) e[j] = (k + j < K) ? __ldg(src + j) : (unsigned short)0;
                    v = make_uint4(e[0] | ((unsigned)e[1] << 16), e[2] | ((unsigned)e[3] << 16),
                                   e[4] | ((unsigned)e[5] << 16), e[6] | ((unsigned)e[7] << 16));
                }
            }
            *reinterpret_cast<uint4*>(&s.b[r * MT_LDS + (idx & 3) * 8]) = v;
        }
        __syncthreads();
        #pragma unroll
        for (int kk = 0; kk < MT_BK; kk += 16) {
            unsigned int ah[2][4], am[2][4], al[2][4], b[4][2];
            #pragma unroll
            for (int mi = 0; mi < 2; mi++) {
                int r0 = (wm * 32 + mi * 16 + g) * MT_LDS + kk + 2 * q;
                int r1 = r0 + 8 * MT_LDS;
                ah[mi][0] = *reinterpret_cast<const unsigned int*>(&s.a_hi[r0]);
                ah[mi][1] = *reinterpret_cast<const unsigned int*>(&s.a_hi[r1]);
                ah[mi][2] = *reinterpret_cast<const unsigned int*>(&s.a_hi[r0 + 8]);
                ah[mi][3] = *reinterpret_cast<const unsigned int*>(&s.a_hi[r1 + 8]);
                am[mi][0] = *reinterpret_cast<const unsigned int*>(&s.a_mid[r0]);
                am[mi][1] = *reinterpret_cast<const unsigned int*>(&s.a_mid[r1]);
                am[mi][2] = *reinterpret_cast<const unsigned int*>(&s.a_mid[r0 + 8]);
                am[mi][3] = *reinterpret_cast<const unsigned int*>(&s.a_mid[r1 + 8]);
                al[mi][0] = *reinterpret_cast<const unsigned int*>(&s.a_lo[r0]);
                al[mi][1] = *reinterpret_cast<const unsigned int*>(&s.a_lo[r1]);
                al[mi][2] = *reinterpret_cast<const unsigned int*>(&s.a_lo[r0 + 8]);
                al[mi][3] = *reinterpret_cast<const unsigned int*>(&s.a_lo[r1 + 8]);
            }
            #pragma unroll
            for (int ni = 0; ni < 4; ni++) {
                int c0 = (wn * 32 + ni * 8 + g) * MT_LDS + kk + 2 * q;
                b[ni][0] = *reinterpret_cast<const unsigned int*>(&s.b[c0]);
                b[ni][1] = *reinterpret_cast<const unsigned int*>(&s.b[c0 + 8]);
            }
            #pragma unroll
            for (int mi = 0; mi < 2; mi++)
                #pragma unroll
                for (int ni = 0; ni < 4; ni++) {
                    // Smallest terms first, so they are not lost against the large partial sums.
                    mma_bf16_16816(acc[mi][ni], al[mi], b[ni]);
                    mma_bf16_16816(acc[mi][ni], am[mi], b[ni]);
                    mma_bf16_16816(acc[mi][ni], ah[mi], b[ni]);
                }
        }
        __syncthreads();
    }
}
