// The sm_80+ building blocks of the bf16 tensor-core kernels (fast precision
// path): ldmatrix, cp.async with commit/wait groups, mma.sync m16n8k16 bf16
// with fp32 accumulation, bf16x2 packing and ex2. Fragment layouts (PTX ISA
// §9.7.13.4.8), g = lane / 4, t = lane % 4:
//   A 16x16 (row): a0 (g, 2t..2t+1), a1 (g+8, 2t..), a2 (g, 2t+8..), a3 (g+8, 2t+8..)
//   B 16x8 (col):  b0 (k 2t..2t+1, n g), b1 (k 2t+8.., n g)
//   C 16x8:        c0,c1 (g, 2t..2t+1), c2,c3 (g+8, 2t..2t+1)
// So two adjacent n8 accumulator tiles of a row block are, packed to bf16,
// exactly one A fragment (k16) of the next product: P = softmax(S) feeds P·V
// without a trip through shared memory.
// Shared addresses are 32-bit offsets in the shared window (smem_u32).
#pragma once
#include <stdint.h>

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
    return (uint32_t)__cvta_generic_to_shared(p);
}

// Four 8x8 b16 matrices: lanes 8i..8i+7 give the 16-byte rows of matrix i.
__device__ __forceinline__ void ldsm_x4(uint32_t* r, uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}

// The same, each matrix transposed (B fragments of a row-major [k][n] tile).
__device__ __forceinline__ void ldsm_x4_trans(uint32_t* r, uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}

// 16 bytes global -> shared, asynchronously; src_bytes < 16 zero-fills the
// rest (0: nothing is read, src need only be a valid aligned address).
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" :: "r"(dst), "l"(src), "r"(src_bytes) : "memory");
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" :: "n"(N) : "memory"); }

__device__ __forceinline__ void mma_16816(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// bf16x2 of (lo, hi), round to nearest even; lo in the low half (lower address / column).
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    uint32_t r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

__device__ __forceinline__ float ex2_approx(float x) {
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(r) : "f"(x));
    return r;
}

// x ≈ hi + lo in bf16 (hi = bf16(x), lo = bf16(x − hi)): an A fragment built from fp32 registers keeps ~16 bits
// when a second mma multiplies lo by the same B (the rounding of the register operand then drops out).
__device__ __forceinline__ uint32_t pack_bf16_lo(float lo, float hi, uint32_t packed_hi) {
    return pack_bf16(lo - __uint_as_float(packed_hi << 16), hi - __uint_as_float(packed_hi & 0xffff0000u));
}
