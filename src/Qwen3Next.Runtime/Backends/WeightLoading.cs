using Qwen3Next.Checkpoint;

namespace Qwen3Next.Backends;

/// <summary>Shared rules for turning a checkpoint tensor into a backend weight.</summary>
public static class WeightLoading
{
    /// <summary>Rank ≥ 2 tensors are matrices <c>[dim0, product of the rest]</c> (conv1d's <c>[C, 1, K]</c> becomes <c>[C, K]</c>).</summary>
    public static bool IsMatrix(TensorView view) => view.Shape.Length >= 2;

    public static (int Rows, int Cols) MatrixShape(TensorView view)
    {
        long cols = 1;
        for (int i = 1; i < view.Shape.Length; i++)
        {
            cols *= view.Shape[i];
        }

        return ((int)view.Shape[0], (int)cols);
    }

    /// <summary>Matrices must be bf16: widening them to float32 or narrowing float32 would change the model.</summary>
    public static ushort[] MatrixBits(TensorView view)
    {
        if (view.DType != DType.BF16)
        {
            throw new TensorDTypeException($"is {view.DType}; matrices must be BF16.", view.File, view.Name);
        }

        return view.AsBF16().ToArray();
    }
}
