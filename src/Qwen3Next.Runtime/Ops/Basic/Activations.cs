using System.Runtime.CompilerServices;

namespace Qwen3Next.Ops.Basic;

/// <summary>Scalar activations shared by the references (and mirrored by the kernels).</summary>
public static class Activations
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Silu(float x) => x / (1f + MathF.Exp(-x));

    /// <summary>torch.nn.functional.softplus with its default threshold 20 (linear above it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Softplus(float x) => x > 20f ? x : MathF.Log(1f + MathF.Exp(x));
}
