// Routed experts, two paths (the launcher picks by T):
// Prefill, grouped GEMM over the rows grouped by moe_permute (64-row tiles
// that never cross experts, one block per tile x output tile, on the tensor
// cores via common/mma_tile.cuh):
//   moe_expert_gate_up_mma: h[pos, i] = silu(x[tok] . Wg[i]) * (x[tok] . Wu[i])
//     The 64 B-columns of a tile are 2 x (16 gate rows | the 16 matching up
//     rows), so each warp holds gate and up of the same i in registers and
//     SwiGLU is fused into the epilogue.
//   moe_expert_down_mma:    out[pos, n] = h[pos] . Wd[n]
// Decode (T*k small), one weight row per warp, every weight byte read once:
//   moe_expert_gate_up_gemv / moe_expert_down_gemv, rows in pair order p = t*k+j.
// Weights packed per layer: gate_up bf16 [slots, 2I, H] (I gate rows, then I
// up rows), down bf16 [slots, H, I]; expert e lives in slot expert_to_slot[e].
#include "bf16.cuh"
#include "reduce.cuh"
#include "mma_tile.cuh"

extern "C" __global__ void __launch_bounds__(128)
moe_expert_gate_up_mma(float* __restrict__ hbuf, const float* __restrict__ x,
                       const int* __restrict__ row_token, const int* __restrict__ offsets,
                       const int* __restrict__ tile_expert, const int* __restrict__ tile_row,
                       const int* __restrict__ num_tiles, const unsigned short* __restrict__ gate_up,
                       const int* __restrict__ expert_to_slot, int H, int I) {
    __shared__ __align__(16) MmaTileSmem s;
    int tile = blockIdx.y;
    if (tile >= num_tiles[0]) return;
    int e = tile_expert[tile], r0 = tile_row[tile], end = offsets[e + 1];
    size_t slot = (size_t)expert_to_slot[e];
    int n0 = blockIdx.x * 32;
    if (threadIdx.x < 64) {
        int r = threadIdx.x;
        s.arow[r] = (r0 + r < end) ? row_token[r0 + r] : -1;
        int wn = r >> 5, w = r & 31, i = n0 + wn * 16 + (w & 15);
        s.brow[r] = i < I ? (int)(slot * 2 * I) + (w < 16 ? i : I + i) : -1;
    }
    __syncthreads();
    float acc[2][4][4];
    mma_tile_zero(acc);
    mma_tile_64x64(acc, s, x, H, gate_up, H, H);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wm = warp >> 1, wn = warp & 1;
    #pragma unroll
    for (int mi = 0; mi < 2; mi++)
        #pragma unroll
        for (int ni = 0; ni < 2; ni++)
            #pragma unroll
            for (int c = 0; c < 4; c++) {
                int pos = r0 + wm * 32 + mi * 16 + (lane >> 2) + (c >= 2 ? 8 : 0);
                int i = n0 + wn * 16 + ni * 8 + 2 * (lane & 3) + (c & 1);
                if (pos < end && i < I)
                    hbuf[(size_t)pos * I + i] = silu_f(acc[mi][ni][c]) * acc[mi][ni + 2][c];
            }
}

extern "C" __global__ void __launch_bounds__(128)
moe_expert_down_mma(float* __restrict__ out, const float* __restrict__ hbuf,
                    const int* __restrict__ offsets, const int* __restrict__ tile_expert,
                    const int* __restrict__ tile_row, const int* __restrict__ num_tiles,
                    const unsigned short* __restrict__ down, const int* __restrict__ expert_to_slot,
                    int H, int I) {
    __shared__ __align__(16) MmaTileSmem s;
    int tile = blockIdx.y;
    if (tile >= num_tiles[0]) return;
    int e = tile_expert[tile], r0 = tile_row[tile], end = offsets[e + 1];
    size_t slot = (size_t)expert_to_slot[e];
    int n0 = blockIdx.x * 64;
    if (threadIdx.x < 64) {
        int r = threadIdx.x;
        s.arow[r] = (r0 + r < end) ? r0 + r : -1;
        s.brow[r] = (n0 + r < H) ? (int)(slot * H) + n0 + r : -1;
    }
    __syncthreads();
    float acc[2][4][4];
    mma_tile_zero(acc);
    mma_tile_64x64(acc, s, hbuf, I, down, I, I);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wm = warp >> 1, wn = warp & 1;
    #pragma unroll
    for (int mi = 0; mi < 2; mi++)
        #pragma unroll
        for (int ni = 0; ni < 4; ni++)
            #pragma unroll
            for (int c = 0; c < 4; c++) {
                int pos = r0 + wm * 32 + mi * 16 + (lane >> 2) + (c >= 2 ? 8 : 0);
                int n = n0 + wn * 32 + ni * 8 + 2 * (lane & 3) + (c & 1);
                if (pos < end && n < H) out[(size_t)pos * H + n] = acc[mi][ni][c];
            }
}

// dot of one bf16 weight row with one fp32 activation row, by a whole warp
__device__ __forceinline__ float warp_dot_bf16(const unsigned short* __restrict__ w,
                                               const float* __restrict__ x, int n) {
    int lane = threadIdx.x & 31;
    float acc = 0.0f;
    if (((n & 7) == 0) && ((((size_t)w) & 15) == 0) && ((((size_t)x) & 15) == 0)) {
        #pragma unroll 4
        for (int c = lane * 8; c < n; c += 256) {
            float wf[8];
            bf16x8_to_f32(__ldg(reinterpret_cast<const uint4*>(w + c)), wf);
            float4 a = __ldg(reinterpret_cast<const float4*>(x + c));
            float4 b = __ldg(reinterpret_cast<const float4*>(x + c + 4));
            acc += wf[0] * a.x + wf[1] * a.y + wf[2] * a.z + wf[3] * a.w
                 + wf[4] * b.x + wf[5] * b.y + wf[6] * b.z + wf[7] * b.w;
        }
    } else {
        for (int c = lane; c < n; c += 32) acc += bf16_to_f32(__ldg(w + c)) * __ldg(x + c);
    }
    return warp_sum(acc);
}

// grid (ceil(I/8), T*k), block 256: warp = one intermediate index i of pair p
extern "C" __global__ void __launch_bounds__(256)
moe_expert_gate_up_gemv(float* __restrict__ hbuf, const float* __restrict__ x,
                        const int* __restrict__ selected, const unsigned short* __restrict__ gate_up,
                        const int* __restrict__ expert_to_slot, int T, int k, int H, int I) {
    int p = blockIdx.y, i = blockIdx.x * 8 + (threadIdx.x >> 5);
    if (p >= T * k || i >= I) return;
    size_t slot = (size_t)expert_to_slot[selected[p]];
    const float* xr = x + (size_t)(p / k) * H;
    const unsigned short* wg = gate_up + (slot * 2 * I + i) * (size_t)H;
    float g = warp_dot_bf16(wg, xr, H);
    float u = warp_dot_bf16(wg + (size_t)I * H, xr, H);
    if ((threadIdx.x & 31) == 0) hbuf[(size_t)p * I + i] = silu_f(g) * u;
}

// grid (ceil(H/8), T*k), block 256: warp = one output feature n of pair p
extern "C" __global__ void __launch_bounds__(256)
moe_expert_down_gemv(float* __restrict__ out, const float* __restrict__ hbuf,
                     const int* __restrict__ selected, const unsigned short* __restrict__ down,
                     const int* __restrict__ expert_to_slot, int T, int k, int H, int I) {
    int p = blockIdx.y, n = blockIdx.x * 8 + (threadIdx.x >> 5);
    if (p >= T * k || n >= H) return;
    size_t slot = (size_t)expert_to_slot[selected[p]];
    float d = warp_dot_bf16(down + (slot * H + n) * (size_t)I, hbuf + (size_t)p * I, I);
    if ((threadIdx.x & 31) == 0) out[(size_t)p * H + n] = d;
}
