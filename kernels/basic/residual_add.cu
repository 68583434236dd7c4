// h[i] += d[i] over n elements (the residual stream update); grid-stride.
extern "C" __global__ void __launch_bounds__(256)
residual_add(float* __restrict__ h, const float* __restrict__ d, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        h[i] += d[i];
}
