using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Ops.GatedDelta;

/// <summary>
/// Causal depthwise conv1d + SiLU over channels, continuing from a conv state.
/// Layouts: input/output <c>[T, C]</c>; weight <c>[C, K]</c>; state <c>[C, K]</c> holding the last K
/// pre-conv inputs, column K-1 newest (a zero state is the left zero padding). One call covers
/// prefill (T tokens) and the decode update (T = 1): the math is the same sliding window.
/// </summary>
public static class CausalConv1dReference
{
    public static void Run(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, Span<float> state, Span<float> output, int tokens, int channels, int kernel)
    {
        var window = new float[kernel];
        for (int c = 0; c < channels; c++)
        {
            var history = state.Slice(c * kernel, kernel);
            var w = weight.Slice(c * kernel, kernel);
            history.CopyTo(window);
            for (int t = 0; t < tokens; t++)
            {
                // Shift the window left by one and append the new input as the newest column.
                Array.Copy(window, 1, window, 0, kernel - 1);
                window[kernel - 1] = input[(t * channels) + c];
                float sum = 0;
                for (int j = 0; j < kernel; j++)
                {
                    sum += w[j] * window[j];
                }

                output[(t * channels) + c] = Activations.Silu(sum);
            }

            window.CopyTo(history);
        }
    }
}
