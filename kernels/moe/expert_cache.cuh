// The device-side expert cache: a fixed pool of device slots shared by every
// MoE layer, filled from routed experts that live in mapped (zero-copy)
// pinned host memory. Lookup, replacement and the choice of what to copy run
// on the device, so the host never learns which experts were chosen.
//   lookup:      key = layer*E + expert; key_slot[key] = slot or -1 (O(1)).
//   replacement: CLOCK with a saturating use counter per slot (0..3): a hit
//                adds one, the hand takes slots whose counter is 0 and
//                decrements the others it passes, so experts used often
//                survive a sweep and one-off ones go first. The hand looks at
//                32 slots per step (one warp) and after CACHE_SWEEP_ROUNDS
//                steps takes any slot that is not pinned: O(1) per access.
//   pinning:     a slot used or filled in the current step (stamp == step)
//                is never a victim in that step, so a layer never evicts
//                what it or its prefetch is about to read.
// The host guarantees slots > the experts one call pins (top-k per token,
// its prefetch, or every distinct expert of a prefill chunk).
#pragma once

#define CACHE_COUNT_MAX 3
#define CACHE_SWEEP_ROUNDS 8

// Statistics, u64 counters in ExpertCache::stats.
#define CACHE_STAT_HITS 0
#define CACHE_STAT_MISSES 1
#define CACHE_STAT_EVICTIONS 2
#define CACHE_STAT_MAPPED_BYTES 3      // read by decode kernels straight from mapped host memory
#define CACHE_STAT_COPIED_BYTES 4      // copied into slots by moe_expert_copy (prefill misses, prefetches)
#define CACHE_STAT_PREDICTED_HITS 5    // selected experts the previous layer had predicted
#define CACHE_STAT_PREDICTED_LOOKUPS 6 // selected experts of calls that had a prediction
#define CACHE_STAT_PREFETCHES 7        // experts copied ahead of their layer
#define CACHE_STAT_COUNT 8

// Every field is 8 bytes; the host writes field i at byte 8*i (Ops/Moe/DeviceExpertCache.cs).
struct ExpertCache {
    long long experts;                      // 0  E per layer
    long long layers;                       // 1  L
    long long slots;                        // 2  S
    long long gate_up_elems;                // 3  2*I*H bf16 per expert
    long long down_elems;                   // 4  H*I
    unsigned short* pool_gate_up;           // 5  [S, 2I, H]
    unsigned short* pool_down;              // 6  [S, H, I]
    const unsigned long long* host_gate_up; // 7  [L] device address of each layer's mapped [E, 2I, H]
    const unsigned long long* host_down;    // 8  [L] ... [E, H, I]
    int* key_slot;                          // 9  [L*E] slot holding the key, or -1
    int* slot_key;                          // 10 [S] key in the slot, or -1
    int* slot_count;                        // 11 [S] use counter 0..CACHE_COUNT_MAX
    unsigned int* slot_stamp;               // 12 [S] step that last pinned the slot
    unsigned int* control;                  // 13 [2] clock hand, step
    unsigned long long* stats;              // 14 [CACHE_STAT_COUNT]
    unsigned int* use_count;                // 15 [L*E] selections per key (routing statistics)
    int* predicted;                         // 16 [L*E] experts predicted for layer l
    int* predicted_count;                   // 17 [L] (0 = no prediction pending)
    unsigned long long* jobs;               // 18 [2][E][4] copy jobs: src/dst gate_up, src/dst down
    int* job_count;                         // 19 [2]
};

__device__ __forceinline__ const unsigned short* cache_host_gate_up(const ExpertCache* c, int layer, int e) {
    return (const unsigned short*)c->host_gate_up[layer] + (size_t)e * c->gate_up_elems;
}

__device__ __forceinline__ const unsigned short* cache_host_down(const ExpertCache* c, int layer, int e) {
    return (const unsigned short*)c->host_down[layer] + (size_t)e * c->down_elems;
}

// Warp 0: `needed` victim slots into out[0..needed), pinned to `step`. A slot
// no sweep can free (more pinned slots than the host allowed) comes back -1.
__device__ __forceinline__ void cache_clock_take(const ExpertCache* c, unsigned step, int needed, int* out) {
    int lane = threadIdx.x & 31;
    int S = (int)c->slots, width = S < 32 ? S : 32;
    unsigned hand = c->control[0];
    int found = 0, max_rounds = CACHE_SWEEP_ROUNDS + (S + 31) / 32 + 1;
    for (int round = 0; found < needed && round < max_rounds; round++) {
        bool active = lane < width;
        int s = (int)((hand + (unsigned)lane) % (unsigned)S);
        int key = active ? c->slot_key[s] : -1, cnt = active ? c->slot_count[s] : 0;
        bool pinned = active && c->slot_stamp[s] == step;
        bool cand = active && !pinned && (key < 0 || cnt == 0 || round >= CACHE_SWEEP_ROUNDS);
        unsigned b = __ballot_sync(0xffffffffu, cand);
        int rank = __popc(b & ((1u << lane) - 1u));
        int avail = __popc(b), take = avail < needed - found ? avail : needed - found;
        bool taken = cand && rank < take;
        unsigned lastb = __ballot_sync(0xffffffffu, taken && rank == take - 1);
        int last = (found + take == needed && lastb != 0) ? 31 - __clz(lastb) : width - 1;
        if (taken) {
            out[found + rank] = s;
            c->slot_stamp[s] = step;
        } else if (active && lane <= last && !pinned && cnt > 0) {
            c->slot_count[s] = cnt - 1;   // second chance
        }
        found += take;
        hand = (hand + (unsigned)last + 1u) % (unsigned)S;
        __syncwarp();
    }
    for (int j = found + lane; j < needed; j += 32) out[j] = -1;
    if (lane == 0) c->control[0] = hand;
    __syncwarp();
}

// The whole block: makes the n distinct experts ids[] of `layer` resident.
// slot[i] = their slot (-1 only if no victim could be found), miss[i] = 1
// when the expert was not resident (its slot is then new and still empty:
// the caller fills it). Hits count one use (count_use) and are pinned.
// Scratch (shared): order[n], victim[n]; counters (shared) [0] hits,
// [1] misses, [2] evictions are added to, not reset.
__device__ __forceinline__ void cache_acquire_block(const ExpertCache* c, int layer, const int* ids, int n,
                                                    int* slot, int* miss, int* order, int* victim,
                                                    unsigned step, bool count_use, int* counters) {
    int E = (int)c->experts;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        int key = layer * E + ids[i];
        int s = c->key_slot[key];
        if (s >= 0) {
            if (count_use) {
                int cnt = c->slot_count[s];
                c->slot_count[s] = cnt < CACHE_COUNT_MAX ? cnt + 1 : cnt;
            }
            c->slot_stamp[s] = step;
            slot[i] = s;
            miss[i] = 0;
        } else {
            slot[i] = -1;
            miss[i] = 1;
        }
    }
    __syncthreads();
    if (threadIdx.x < 32) {
        int lane = threadIdx.x, m = 0, hits = 0;
        for (int base = 0; base < n; base += 32) {
            int i = base + lane;
            bool is = i < n && miss[i];
            unsigned b = __ballot_sync(0xffffffffu, is);
            if (is) order[m + __popc(b & ((1u << lane) - 1u))] = i;
            m += __popc(b);
            hits += __popc(__ballot_sync(0xffffffffu, i < n && !is));
        }
        __syncwarp();
        cache_clock_take(c, step, m, victim);
        int evicted = 0;
        for (int j = lane; j < m; j += 32) {
            int i = order[j], v = victim[j], key = layer * E + ids[i];
            if (v < 0) continue;
            int old = c->slot_key[v];
            if (old >= 0) { c->key_slot[old] = -1; evicted++; }
            c->slot_key[v] = key;
            c->key_slot[key] = v;
            c->slot_count[v] = count_use ? 1 : 0;   // a prefetch that is never used goes first
            slot[i] = v;
        }
        #pragma unroll
        for (int o = 16; o > 0; o >>= 1) evicted += __shfl_xor_sync(0xffffffffu, evicted, o);
        if (lane == 0) { counters[0] += hits; counters[1] += m; counters[2] += evicted; }
    }
    __syncthreads();
}
