// The fast-precision GEMM main loop on Hopper (sm_90a), shared by the dense
// GEMM and the grouped expert GEMMs: C[128 x 256] = A[128 x K] . B[256 x K]^T,
// A and B bf16 rows (k contiguous) gathered through row tables, C in fp32
// registers (two warpgroups, each 64 x 256 = 128 floats per thread).
//
// Block = 256 threads = 2 warpgroups; every thread both stages and computes
// (no warp specialisation). Pipeline: 4 shared-memory stages of 64 k values
// (A 16 KiB + B 32 KiB, 128B-swizzled, see wgmma.cuh), tiles loaded 2 ahead
// with cp.async, one wgmma group in flight:
//   iteration kt: wait until tile kt landed (cp.async.wait_group 1), fence the
//   generic-proxy writes for the async proxy, barrier; then load tile kt+2
//   into the stage tile kt-2 used (its wgmma group finished: every warpgroup
//   waited for it before the barrier); issue the 4 k16 wgmmas of tile kt,
//   commit, wait for the group of tile kt-1.
// Rows are gathered with 16-byte cp.async per (row, 8-column chunk): thread t
// copies chunk t % 8 of rows t / 8 + 32 i. A row index < 0 (or k past K) is
// zero-filled (src-size 0, nothing read). K must be a multiple of 8 and the
// bases 16-byte aligned (the launchers check).
#pragma once
#include "wgmma.cuh"

#define GW_BM 128
#define GW_BN 256
#define GW_STAGES 4
#define GW_A_BYTES (GW_BM * WG_BK * 2)
#define GW_B_BYTES (GW_BN * WG_BK * 2)
#define GW_STAGE_BYTES (GW_A_BYTES + GW_B_BYTES)
// Dynamic shared memory a launch needs: the stages plus 1 KiB to align them to a swizzle atom.
#define GW_SMEM_BYTES (GW_STAGES * GW_STAGE_BYTES + 1024)

struct GemmRows {
    const unsigned short* a;  // A base; row r at a + arow[r] * lda
    const unsigned short* b;  // B base; row c at b + brow[c] * ldb
    long long lda, ldb;
    int K;
};

// The 1024-byte-aligned start of the stages inside the dynamic shared memory.
__device__ __forceinline__ uint32_t gw_stages(unsigned char* dyn) {
    return (smem_u32(dyn) + 1023u) & ~1023u;
}

__device__ __forceinline__ void gw_load_stage(uint32_t stage, const GemmRows& g, const int* arow, const int* brow, int k0) {
    const int tid = threadIdx.x, c = tid & 7, r = tid >> 3;
    const int k = k0 + c * 8;
    const bool kin = k < g.K;
    #pragma unroll
    for (int i = 0; i < GW_BM / 32; i++) {
        int row = r + 32 * i, src = arow[row];
        bool on = kin && src >= 0;
        cp_async16(stage + swizzle128(row, c), on ? g.a + src * g.lda + k : g.a, on ? 16 : 0);
    }
    #pragma unroll
    for (int i = 0; i < GW_BN / 32; i++) {
        int row = r + 32 * i, src = brow[row];
        bool on = kin && src >= 0;
        cp_async16(stage + GW_A_BYTES + swizzle128(row, c), on ? g.b + src * g.ldb + k : g.b, on ? 16 : 0);
    }
}

// arow[GW_BM] / brow[GW_BN] (row indices, < 0 = zero row) must be in shared
// memory and visible (barrier) before the call. Returns with every wgmma of
// this warpgroup complete; the stages may be reused after a barrier.
__device__ __forceinline__ void gw_mainloop(float (&acc)[128], uint32_t stages, const GemmRows& g, const int* arow, const int* brow) {
    const int wg = threadIdx.x >> 7;
    const int ktiles = (g.K + WG_BK - 1) / WG_BK;
    #pragma unroll
    for (int i = 0; i < 128; i++) acc[i] = 0.0f;
    #pragma unroll
    for (int s = 0; s < 2; s++) {
        if (s < ktiles) gw_load_stage(stages + s * GW_STAGE_BYTES, g, arow, brow, s * WG_BK);
        cp_async_commit();
    }
    for (int kt = 0; kt < ktiles; kt++) {
        cp_async_wait<1>();
        fence_proxy_async();
        __syncthreads();
        if (kt + 2 < ktiles) gw_load_stage(stages + ((kt + 2) % GW_STAGES) * GW_STAGE_BYTES, g, arow, brow, (kt + 2) * WG_BK);
        cp_async_commit();
        const uint32_t a = stages + (kt % GW_STAGES) * GW_STAGE_BYTES + wg * (64 * 128);
        const uint32_t b = stages + (kt % GW_STAGES) * GW_STAGE_BYTES + GW_A_BYTES;
        wgmma_fence();
        #pragma unroll
        for (int kk = 0; kk < WG_BK / 16; kk++)
            wgmma_m64n256k16(acc, wgmma_desc_sw128(a + 32 * kk), wgmma_desc_sw128(b + 32 * kk), 1);
        wgmma_commit();
        wgmma_wait<1>(acc);
    }
    wgmma_wait<0>(acc);
}

// Row (within the 128-row tile) and column (within 256) of acc[4j + e] for this thread.
__device__ __forceinline__ int gw_row(int e) {
    const int tid = threadIdx.x;
    return (tid >> 7) * 64 + ((tid >> 5) & 3) * 16 + ((tid & 31) >> 2) + (e >= 2 ? 8 : 0);
}

__device__ __forceinline__ int gw_col(int j, int e) { return j * 8 + 2 * (threadIdx.x & 3) + (e & 1); }
