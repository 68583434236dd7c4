// Packed variable-length batches (fla / FlashInfer convention) and the paged KV cache.
// cu_seqlens int32 [B+1]: sequence b owns tokens cu[b] .. cu[b+1]-1 (every sequence has >= 1 token, so cu is
// strictly increasing). Paged cache: pages [num_pages, Hkv, page_size, D]; cache index c of sequence b lives in
// page block_tables[b * max_pages + c / page_size], row c % page_size. Any page_size >= 1 (a contiguous cache
// [Hkv, capacity, D] is one page of size capacity).
#pragma once

// the sequence that owns token t: the largest b with cu[b] <= t (binary search, B >= 1)
__device__ __forceinline__ int varlen_seq_of(const int* __restrict__ cu, int B, int t) {
    int lo = 0, hi = B - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (cu[mid] <= t) lo = mid; else hi = mid - 1;
    }
    return lo;
}

// element offset of row (kv head j, cache index c) of sequence b in a page pool
__device__ __forceinline__ size_t paged_row(const int* __restrict__ block_tables, int max_pages, int b, int c,
                                            int page_size, int Hkv, int j, int D) {
    int page = block_tables[(size_t)b * max_pages + c / page_size];
    return (((size_t)page * Hkv + j) * page_size + c % page_size) * (size_t)D;
}
