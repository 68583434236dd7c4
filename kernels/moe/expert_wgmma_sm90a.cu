// Fast-precision grouped expert GEMMs on Hopper's wgmma (sm_90a), persistent:
// a grid of about one block per SM walks the work items (128-row tile of one
// expert from moe_permute with tile_rows = 128) x (256-column block) in order
// w = blockIdx.x, + gridDim.x, ..., so neighbouring blocks share an expert's
// weights in L2 and the host never needs the tile count (num_tiles[0] is read
// on the device). Main loop: common/gemm_wgmma.cuh (128 x 256 tiles, bf16 in,
// fp32 accumulate). Activations bf16: x cast once by the launcher, h written
// in bf16 by the gate/up kernel for the down kernel.
//   moe_expert_gate_up_wgmma: h[pos, i] = bf16(silu(x[tok] . Wg[i]) * (x[tok] . Wu[i]))
//     B rows of a 256-column block: 8-row groups alternate gate rows i and the
//     up rows of the same i (16 groups of each), so each thread holds gate
//     and up of the same (row, i) and SwiGLU is fused into the epilogue.
//   moe_expert_down_wgmma:    out[pos, n] = h[pos] . Wd[n]   (fp32, permuted rows)
// Weights: gate_up bf16 [slots, 2I, H] (I gate rows then I up rows), down
// bf16 [slots, H, I]; expert e in slot expert_to_slot[e]. H % 8 == 0 and
// I % 8 == 0 (the launcher checks).
#include "gemm_wgmma.cuh"
#include "bf16.cuh"

extern "C" __global__ void __launch_bounds__(256, 1)
moe_expert_gate_up_wgmma(unsigned short* __restrict__ hbuf, const unsigned short* __restrict__ xb,
                         const int* __restrict__ row_token, const int* __restrict__ offsets,
                         const int* __restrict__ tile_expert, const int* __restrict__ tile_row,
                         const int* __restrict__ num_tiles, const unsigned short* __restrict__ gate_up,
                         const int* __restrict__ expert_to_slot, int H, int I) {
    extern __shared__ unsigned char dyn[];
    __shared__ int arow[GW_BM], brow[GW_BN];
    const int tid = threadIdx.x, nblocks = (I + 127) / 128;
    const int items = num_tiles[0] * nblocks;
    const uint32_t stages = gw_stages(dyn);
    GemmRows g = {xb, gate_up, H, H, H};
    float acc[128];
    for (int w = blockIdx.x; w < items; w += gridDim.x) {
        const int tile = w / nblocks, i0 = (w % nblocks) * 128;
        const int e = tile_expert[tile], r0 = tile_row[tile], end = offsets[e + 1];
        const int slot = expert_to_slot[e];
        __syncthreads();  // the previous item's tables and stages are no longer read
        if (tid < GW_BM) arow[tid] = r0 + tid < end ? row_token[r0 + tid] : -1;
        {
            int grp = tid >> 3, i = i0 + (grp >> 1) * 8 + (tid & 7);
            brow[tid] = i < I ? slot * 2 * I + ((grp & 1) ? I + i : i) : -1;
        }
        __syncthreads();
        gw_mainloop(acc, stages, g, arow, brow);
        #pragma unroll
        for (int p = 0; p < 16; p++) {
            #pragma unroll
            for (int h = 0; h < 2; h++) {
                int pos = r0 + gw_row(2 * h), i = i0 + p * 8 + 2 * (tid & 3);
                if (pos >= end || i >= I) continue;
                float g0 = acc[4 * (2 * p) + 2 * h], g1 = acc[4 * (2 * p) + 2 * h + 1];
                float u0 = acc[4 * (2 * p + 1) + 2 * h], u1 = acc[4 * (2 * p + 1) + 2 * h + 1];
                // I % 8 == 0, so i + 1 < I and the pair is one aligned 32-bit store.
                unsigned int packed = f32_to_bf16_rn(silu_f(g0) * u0) | ((unsigned int)f32_to_bf16_rn(silu_f(g1) * u1) << 16);
                *reinterpret_cast<unsigned int*>(hbuf + (size_t)pos * I + i) = packed;
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(256, 1)
moe_expert_down_wgmma(float* __restrict__ out, const unsigned short* __restrict__ hbuf,
                      const int* __restrict__ offsets, const int* __restrict__ tile_expert,
                      const int* __restrict__ tile_row, const int* __restrict__ num_tiles,
                      const unsigned short* __restrict__ down, const int* __restrict__ expert_to_slot,
                      int H, int I) {
    extern __shared__ unsigned char dyn[];
    __shared__ int arow[GW_BM], brow[GW_BN];
    const int tid = threadIdx.x, nblocks = (H + GW_BN - 1) / GW_BN;
    const int items = num_tiles[0] * nblocks;
    const uint32_t stages = gw_stages(dyn);
    GemmRows g = {hbuf, down, I, I, I};
    float acc[128];
    for (int w = blockIdx.x; w < items; w += gridDim.x) {
        const int tile = w / nblocks, n0 = (w % nblocks) * GW_BN;
        const int e = tile_expert[tile], r0 = tile_row[tile], end = offsets[e + 1];
        const int slot = expert_to_slot[e];
        __syncthreads();
        if (tid < GW_BM) arow[tid] = r0 + tid < end ? r0 + tid : -1;
        brow[tid] = n0 + tid < H ? slot * H + n0 + tid : -1;
        __syncthreads();
        gw_mainloop(acc, stages, g, arow, brow);
        #pragma unroll
        for (int j = 0; j < 32; j++) {
            #pragma unroll
            for (int h = 0; h < 2; h++) {
                int pos = r0 + gw_row(2 * h), n = n0 + gw_col(j, 0);
                // H % 8 == 0: n + 1 < H, one aligned 8-byte store.
                if (pos < end && n < H)
                    *reinterpret_cast<float2*>(out + (size_t)pos * H + n) = make_float2(acc[4 * j + 2 * h], acc[4 * j + 2 * h + 1]);
            }
        }
    }
}
