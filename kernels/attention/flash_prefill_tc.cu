// Causal gated attention for prefill on tensor cores (fast precision path):
// FlashAttention-2 on mma.sync m16n8k16 — QKᵀ and PV with bf16 operands and
// fp32 accumulation, online softmax in fp32 (exp2 with the log2(e) folded
// into the score scale), K/V tiles double-buffered in shared memory by
// cp.async so tile i+1 loads while tile i is multiplied.
// Packed variable-length batch (kernels/README.md, "Batches"): sequence b
// owns tokens cu_seqlens[b] .. cu_seqlens[b+1]-1 and, after this step's
// tokens were appended, context_lens[b] cache rows; its local token i sees
// cache indices 0 .. ctx[b] - len(b) + i, read from the paged bf16 cache:
// index p of sequence b, KV head j is row (p % page_size) of page
// block_tables[b * max_pages + p / page_size] in the pools
// k_pages, v_pages bf16 [num_pages, Hkv, page_size, D].
// One block = 128 query rows = 128/G tokens x the G = Hq/Hkv query heads of
// one KV head, so every K/V tile is read once for all heads of the group.
// Row r -> token t0 + r/G, head j*G + r%G. 8 warps x 16 rows; a warp keeps
// its Q rows' fragments in shared memory (ldmatrix per k-step), S (16 x 64)
// and O (16 x D) in registers; P goes from the S accumulators straight into
// the A fragments of P·V (tc_sm80.cuh). 64-key tiles.
// q fp32 [T, Hq, D] (normed + roped), qg fp32 [T, Hq, 2D] (gate = second
// half of each head), y fp32 [T, Hq*D] = softmax(q kᵀ scale) v * sigmoid(gate).
// Grid (ceil(max_len / (128/G)), Hkv, B), block 256,
// dyn smem = 768 * (D + 8) bytes (202,752 at D = 256). D in {64, 128, 256},
// G divides 128.
#include "bf16.cuh"
#include "tc_sm80.cuh"

#define FTC_ROWS 128
#define FTC_BK 64

extern __shared__ __align__(16) unsigned short ftc_smem[];

template <int D>
__device__ __forceinline__ void ftc_impl(float* __restrict__ y, const float* __restrict__ q, const float* __restrict__ qg,
        const unsigned short* __restrict__ k_pages, const unsigned short* __restrict__ v_pages,
        const int* __restrict__ cu_seqlens, const int* __restrict__ context_lens, const int* __restrict__ block_tables,
        int Hq, int Hkv, int page_size, int max_pages, float scale) {
    constexpr int LDS = D + 8;                 // +16 bytes per row: ldmatrix rows fall in distinct banks
    constexpr int CPR = D / 8;                 // 16-byte chunks per row
    constexpr int RPT = FTC_BK * CPR / 256;    // K (and V) rows each thread copies per tile
    constexpr int STAGE = 2 * FTC_BK * LDS;    // K then V of one tile, in halves
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t4 = lane & 3;
    const int j = blockIdx.y, b = blockIdx.z, G = Hq / Hkv, BQ = FTC_ROWS / G;
    const int seq0 = cu_seqlens[b], len = cu_seqlens[b + 1] - seq0;
    const int t0 = blockIdx.x * BQ;
    if (t0 >= len) return;
    const int nvalid = min(BQ, len - t0);
    const int first_idx = context_lens[b] - len + t0;   // cache index the block's first token sees up to
    const int qpos_first = first_idx;
    const int qpos_last = first_idx + nvalid - 1;
    const int ntiles = qpos_last / FTC_BK + 1;      // keys 0 .. qpos_last
    const float c = scale * 1.4426950408889634f;   // scores in log2 units

    unsigned short* sQ = ftc_smem;
    unsigned short* sKV = ftc_smem + FTC_ROWS * LDS;

    // Q tile: fp32 -> bf16, in batches of 8 float4 per thread (loads issued together).
    #pragma unroll
    for (int i0 = 0; i0 < FTC_ROWS * D / 4 / 256; i0 += 8) {
        float4 v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            int e = tid + (i0 + i) * 256, r = e / (D / 4), c4 = e % (D / 4), tok = r / G;
            v[i] = make_float4(0.f, 0.f, 0.f, 0.f);
            if (tok < nvalid)
                v[i] = __ldg(reinterpret_cast<const float4*>(q + ((size_t)(seq0 + t0 + tok) * Hq + j * G + r % G) * D) + c4);
        }
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            int e = tid + (i0 + i) * 256, r = e / (D / 4), c4 = e % (D / 4);
            *reinterpret_cast<uint2*>(&sQ[r * LDS + c4 * 4]) = make_uint2(pack_bf16(v[i].x, v[i].y), pack_bf16(v[i].z, v[i].w));
        }
    }

    // This thread's two rows: r0 = 16 warp + g and r0 + 8.
    const int r0 = warp * 16 + g, tk0 = r0 / G, tk1 = (r0 + 8) / G;
    const int qp0 = tk0 < nvalid ? first_idx + tk0 : -1;
    const int qp1 = tk1 < nvalid ? first_idx + tk1 : -1;

    // K/V copy: thread copies chunk (tid % CPR) of rows tid / CPR + (256 / CPR) i. Page ids are loaded one tile ahead.
    const int crow = tid / CPR, ccol = tid % CPR;
    const size_t head_off = (size_t)j * page_size;
    int pg[RPT];
    auto load_pages = [&](int kt) {
        #pragma unroll
        for (int i = 0; i < RPT; i++) {
            int key = kt * FTC_BK + crow + i * (256 / CPR);
            pg[i] = key <= qpos_last ? __ldg(block_tables + (size_t)b * max_pages + key / page_size) : -1;
        }
    };
    auto issue = [&](int kt) {
        unsigned short* st = sKV + (kt & 1) * STAGE;
        #pragma unroll
        for (int i = 0; i < RPT; i++) {
            int row = crow + i * (256 / CPR), key = kt * FTC_BK + row;
            size_t src = pg[i] < 0 ? 0 : ((size_t)pg[i] * Hkv * page_size + head_off + key % page_size) * D + ccol * 8;
            int bytes = pg[i] < 0 ? 0 : 16;
            cp_async16(smem_u32(st + row * LDS + ccol * 8), k_pages + src, bytes);
            cp_async16(smem_u32(st + (FTC_BK + row) * LDS + ccol * 8), v_pages + src, bytes);
        }
        cp_async_commit();
    };

    float o[D / 8][4];
    #pragma unroll
    for (int n = 0; n < D / 8; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;

    load_pages(0);
    issue(0);
    if (ntiles > 1) load_pages(1);
    const uint32_t qaddr = smem_u32(sQ + (warp * 16 + (lane & 15)) * LDS + (lane >> 4) * 8);
    const uint32_t koff = (((lane & 7) + ((lane >> 4) << 3)) * LDS + ((lane >> 3) & 1) * 8) * 2;
    const uint32_t voff = ((FTC_BK + (lane & 7) + ((lane >> 3) & 1) * 8) * LDS + (lane >> 4) * 8) * 2;

    for (int kt = 0; kt < ntiles; kt++) {
        cp_async_wait<0>();
        __syncthreads();   // tile kt visible to all; every warp is done with tile kt-1's buffer
        if (kt + 1 < ntiles) {
            issue(kt + 1);
            if (kt + 2 < ntiles) load_pages(kt + 2);
        }
        const uint32_t stage = smem_u32(sKV + (kt & 1) * STAGE);

        float s[8][4];
        #pragma unroll
        for (int n = 0; n < 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
        #pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            uint32_t a[4];
            ldsm_x4(a, qaddr + kk * 32);
            #pragma unroll
            for (int np = 0; np < 4; np++) {
                uint32_t bb[4];
                ldsm_x4(bb, stage + koff + (np * 16 * LDS + kk * 16) * 2);
                mma_16816(s[2 * np], a, bb[0], bb[1]);
                mma_16816(s[2 * np + 1], a, bb[2], bb[3]);
            }
        }

        if (kt * FTC_BK + FTC_BK - 1 > qpos_first) {   // the tile crosses the diagonal of some row
            #pragma unroll
            for (int n = 0; n < 8; n++)
                #pragma unroll
                for (int e = 0; e < 4; e++) {
                    int key = kt * FTC_BK + n * 8 + 2 * t4 + (e & 1);
                    if (key > (e < 2 ? qp0 : qp1)) s[n][e] = -INFINITY;
                }
        }

        float mx0 = -INFINITY, mx1 = -INFINITY;
        #pragma unroll
        for (int n = 0; n < 8; n++) {
            mx0 = fmaxf(mx0, fmaxf(s[n][0], s[n][1]));
            mx1 = fmaxf(mx1, fmaxf(s[n][2], s[n][3]));
        }
        #pragma unroll
        for (int off = 1; off <= 2; off <<= 1) {
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, off));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, off));
        }
        const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
        const float mu0 = mn0 == -INFINITY ? 0.0f : mn0 * c, mu1 = mn1 == -INFINITY ? 0.0f : mn1 * c;
        const float alpha0 = ex2_approx(m0 * c - mu0), alpha1 = ex2_approx(m1 * c - mu1);
        m0 = mn0;
        m1 = mn1;
        float ps0 = 0.0f, ps1 = 0.0f;
        #pragma unroll
        for (int n = 0; n < 8; n++) {
            s[n][0] = ex2_approx(fmaf(s[n][0], c, -mu0));
            s[n][1] = ex2_approx(fmaf(s[n][1], c, -mu0));
            s[n][2] = ex2_approx(fmaf(s[n][2], c, -mu1));
            s[n][3] = ex2_approx(fmaf(s[n][3], c, -mu1));
            ps0 += s[n][0] + s[n][1];
            ps1 += s[n][2] + s[n][3];
        }
        l0 = l0 * alpha0 + ps0;   // per-thread partial sums; the quad is summed once, at the end
        l1 = l1 * alpha1 + ps1;
        #pragma unroll
        for (int n = 0; n < D / 8; n++) {
            o[n][0] *= alpha0;
            o[n][1] *= alpha0;
            o[n][2] *= alpha1;
            o[n][3] *= alpha1;
        }

        #pragma unroll
        for (int ks = 0; ks < 4; ks++) {
            uint32_t pa[4] = {pack_bf16(s[2 * ks][0], s[2 * ks][1]), pack_bf16(s[2 * ks][2], s[2 * ks][3]),
                              pack_bf16(s[2 * ks + 1][0], s[2 * ks + 1][1]), pack_bf16(s[2 * ks + 1][2], s[2 * ks + 1][3])};
            #pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                uint32_t bb[4];
                ldsm_x4_trans(bb, stage + voff + (ks * 16 * LDS + dp * 16) * 2);
                mma_16816(o[2 * dp], pa, bb[0], bb[1]);
                mma_16816(o[2 * dp + 1], pa, bb[2], bb[3]);
            }
        }
    }

    #pragma unroll
    for (int off = 1; off <= 2; off <<= 1) {
        l0 += __shfl_xor_sync(0xffffffffu, l0, off);
        l1 += __shfl_xor_sync(0xffffffffu, l1, off);
    }
    // Epilogue: O / l * sigmoid(gate), gates loaded 8 at a time.
    #pragma unroll
    for (int half = 0; half < 2; half++) {
        const int tk = half ? tk1 : tk0, r = r0 + 8 * half;
        if (tk >= nvalid) continue;
        const size_t tok = (size_t)(seq0 + t0 + tk);
        const int h = j * G + r % G;
        const float inv = 1.0f / (half ? l1 : l0);
        const float* gate = qg + (tok * Hq + h) * 2 * D + D + 2 * t4;
        float* yr = y + tok * Hq * D + (size_t)h * D + 2 * t4;
        #pragma unroll
        for (int n0 = 0; n0 < D / 8; n0 += 8) {
            float2 gv[8];
            #pragma unroll
            for (int n = 0; n < 8; n++) gv[n] = __ldg(reinterpret_cast<const float2*>(gate + (n0 + n) * 8));
            #pragma unroll
            for (int n = 0; n < 8; n++) {
                float2 out = make_float2(o[n0 + n][2 * half] * inv * sigmoid_f(gv[n].x), o[n0 + n][2 * half + 1] * inv * sigmoid_f(gv[n].y));
                *reinterpret_cast<float2*>(yr + (n0 + n) * 8) = out;
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(256, 1)
attn_flash_prefill_tc(float* __restrict__ y, const float* __restrict__ q, const float* __restrict__ qg,
                      const unsigned short* __restrict__ k_pages, const unsigned short* __restrict__ v_pages,
                      const int* __restrict__ cu_seqlens, const int* __restrict__ context_lens,
                      const int* __restrict__ block_tables, int Hq, int Hkv, int D, int page_size, int max_pages,
                      float scale) {
    switch (D) {
        case 64: ftc_impl<64>(y, q, qg, k_pages, v_pages, cu_seqlens, context_lens, block_tables, Hq, Hkv, page_size, max_pages, scale); break;
        case 128: ftc_impl<128>(y, q, qg, k_pages, v_pages, cu_seqlens, context_lens, block_tables, Hq, Hkv, page_size, max_pages, scale); break;
        case 256: ftc_impl<256>(y, q, qg, k_pages, v_pages, cu_seqlens, context_lens, block_tables, Hq, Hkv, page_size, max_pages, scale); break;
        default: break;
    }
}

// The bf16 copy of the paged cache that attn_flash_prefill_tc reads (fast
// precision). The cache itself stays fp32, shared with the decode kernels
// and the exact path, so the launcher converts at this boundary: cache rows
// 0 .. context_lens[b]-1 of every sequence of the batch, from the fp32 pools
// into bf16 pools of the same layout [num_pages, Hkv, page_size, D]; rows no
// sequence of the batch reaches are not touched. One block = 64 cache rows
// of one KV head of one sequence: grid (ceil(max_ctx / 64), Hkv, B), block
// 256. D a multiple of 4 (rows are read as float4).
extern "C" __global__ void __launch_bounds__(256)
attn_pages_bf16(unsigned short* __restrict__ kb, unsigned short* __restrict__ vb, const float* __restrict__ k_pages,
                const float* __restrict__ v_pages, const int* __restrict__ context_lens, const int* __restrict__ block_tables,
                int Hkv, int D, int page_size, int max_pages) {
    const int j = blockIdx.y, b = blockIdx.z, c0 = blockIdx.x * 64;
    const int rows = min(64, context_lens[b] - c0);
    if (rows <= 0) return;
    const int per_row = D / 4;
    #pragma unroll 4
    for (int e = threadIdx.x; e < rows * per_row; e += 256) {
        const int c = c0 + e / per_row;
        const int page = __ldg(block_tables + (size_t)b * max_pages + c / page_size);
        const size_t at = (((size_t)page * Hkv + j) * page_size + c % page_size) * D + (e % per_row) * 4;
        const float4 k4 = __ldg(reinterpret_cast<const float4*>(k_pages + at));
        const float4 v4 = __ldg(reinterpret_cast<const float4*>(v_pages + at));
        *reinterpret_cast<uint2*>(kb + at) = make_uint2(pack_bf16(k4.x, k4.y), pack_bf16(k4.z, k4.w));
        *reinterpret_cast<uint2*>(vb + at) = make_uint2(pack_bf16(v4.x, v4.y), pack_bf16(v4.z, v4.w));
    }
}
