using System.Numerics.Tensors;

namespace Qwen3Next.Ops.Moe;

/// <summary>Softmax over all experts in float32, top-k in <see cref="RoutingOrder"/> (ties: lower expert id first;
/// NaN last), then renormalise the k weights to sum to one when norm_topk_prob is set. NaN probabilities give NaN weights.</summary>
public static class MoeRoutingReference
{
    public static void Route(ReadOnlySpan<float> logits, int topK, bool normalize, Span<int> selected, Span<float> weights)
    {
        // Max-subtracted like the kernels (TensorPrimitives.SoftMax is not): +Inf logits then make every probability
        // NaN on every backend instead of some 0 and some NaN.
        var probs = new float[logits.Length];
        TensorPrimitives.Subtract(logits, TensorPrimitives.Max(logits), probs);
        TensorPrimitives.Exp(probs, probs);
        TensorPrimitives.Divide(probs, TensorPrimitives.Sum(probs), probs);
        var order = new int[probs.Length];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (x, y) => x == y ? 0 : RoutingOrder.Before(probs[x], x, probs[y], y) ? -1 : 1);
        float sum = 0;
        for (int j = 0; j < topK; j++)
        {
            selected[j] = order[j];
            weights[j] = probs[order[j]];
            sum += weights[j];
        }

        if (normalize)
        {
            for (int j = 0; j < topK; j++)
            {
                weights[j] /= sum;
            }
        }
    }
}
