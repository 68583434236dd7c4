namespace Qwen3Next.Backends;

/// <summary>
/// Basic ops whose matmul can add its product into y in the same kernel: the residual add after a mixer's output
/// projection costs no launch of its own. A backend without it gets the product and a separate add
/// (<see cref="ResidualProjection"/>).
/// </summary>
public interface IResidualMatMul
{
    /// <summary><c>y[rows, W.Rows] += x[rows, W.Cols] · Wᵀ</c>; y must not alias x.</summary>
    void MatMulAdd(DeviceTensor x, DeviceWeight weight, DeviceTensor y, int rows);
}

/// <summary>A projection written into y, or added into it (the residual stream) with the fused kernel where there is one.</summary>
public static class ResidualProjection
{
    public static void Apply(IKernelBackend backend, DeviceTensor x, DeviceWeight weight, DeviceTensor y, int rows, bool accumulate)
    {
        if (!accumulate)
        {
            backend.Basic.MatMul(x, weight, y, rows);
        }
        else if (backend.Basic is IResidualMatMul fused)
        {
            fused.MatMulAdd(x, weight, y, rows);
        }
        else
        {
            long n = (long)rows * weight.Rows;
            using var product = backend.Allocate(n);
            backend.Basic.MatMul(x, weight, product, rows);
            backend.Basic.Add(y, product, n);
        }
    }
}
