using System.Numerics.Tensors;

namespace Qwen3Next.Ops.Moe;

/// <summary>Softmax over all experts in float32, top-k by probability (ties: lower expert id first),
/// then renormalise the k weights to sum to one when norm_topk_prob is set.</summary>
public static class MoeRoutingReference
{
    public static void Route(ReadOnlySpan<float> logits, int topK, bool normalize, Span<int> selected, Span<float> weights)
    {
        var probs = new float[logits.Length];
        TensorPrimitives.SoftMax(logits, probs);
        var order = new int[probs.Length];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (x, y) => probs[y] != probs[x] ? probs[y].CompareTo(probs[x]) : x.CompareTo(y));
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
