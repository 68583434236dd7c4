// out[t, :] = widen(table[ids[t], :]); no scaling (Qwen3-Next does not scale
// embeddings). table bf16 [vocab, hidden]; ids int32 [T]; out fp32 [T, hidden].
#include "bf16.cuh"

extern "C" __global__ void __launch_bounds__(256)
embedding_bf16(float* __restrict__ out, const int* __restrict__ ids,
               const unsigned short* __restrict__ table, int T, int hidden) {
    int t = blockIdx.x;
    if (t >= T) return;
    const unsigned short* row = table + (size_t)ids[t] * hidden;
    float* o = out + (size_t)t * hidden;
    for (int c = threadIdx.x; c < hidden; c += blockDim.x) o[c] = bf16_to_f32(__ldg(row + c));
}
