using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Ops.Moe;

/// <summary>One SwiGLU expert on one token: down · (silu(gate·x) ⊙ (up·x)). Weights bf16 <c>[out, in]</c>.</summary>
public static class SwiGluExpertReference
{
    public static void Run(ReadOnlySpan<float> x, ReadOnlySpan<ushort> gate, ReadOnlySpan<ushort> up, ReadOnlySpan<ushort> down,
        int hidden, int intermediate, Span<float> y)
    {
        var h = new float[intermediate];
        for (int i = 0; i < intermediate; i++)
        {
            float g = Bf16.Dot(x, gate.Slice(i * hidden, hidden));
            float u = Bf16.Dot(x, up.Slice(i * hidden, hidden));
            h[i] = Activations.Silu(g) * u;
        }

        for (int o = 0; o < hidden; o++)
        {
            y[o] = Bf16.Dot(h, down.Slice(o * intermediate, intermediate));
        }
    }
}
