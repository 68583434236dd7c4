using Qwen3Next.Checkpoint;

namespace Qwen3Next.Streaming;

/// <summary>Bytes of every weight group of a model, from its config (bf16, as published). Routed experts are the
/// only weights that do not have to be on the device every token; everything else is "always needed".</summary>
public sealed record WeightInventory(long EmbeddingBytes, long LmHeadBytes, long FinalNormBytes, long[] LayerBytes, long ExpertBytes, int ExpertsPerLayer)
{
    public const int BytesPerValue = 2;

    /// <summary>Non-expert bytes of each layer: mixer, norms, router, shared expert and its gate.</summary>
    public IReadOnlyList<long> AlwaysNeededPerLayer => LayerBytes;

    public long AlwaysNeededBytes => EmbeddingBytes + LmHeadBytes + FinalNormBytes + LayerBytes.Sum();

    public long AllExpertBytes => ExpertBytes * ExpertsPerLayer * LayerBytes.Length;

    public long TotalBytes => AlwaysNeededBytes + AllExpertBytes;

    public static WeightInventory From(ModelConfig c)
    {
        var specs = WeightNames.Expected(c);
        long Bytes(Func<string, bool> match) => specs.Where(s => match(s.Name)).Sum(s => s.ElementCount) * BytesPerValue;
        var layers = new long[c.NumHiddenLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            string prefix = $"model.layers.{i}.";
            layers[i] = Bytes(n => n.StartsWith(prefix, StringComparison.Ordinal) && !n.Contains(".mlp.experts.", StringComparison.Ordinal));
        }

        long expert = 3L * c.MoeIntermediateSize * c.HiddenSize * BytesPerValue;
        return new WeightInventory(Bytes(n => n == WeightNames.EmbedTokens), c.TieWordEmbeddings ? 0 : Bytes(n => n == WeightNames.LmHead),
            Bytes(n => n == WeightNames.FinalNorm), layers, expert, c.NumExperts);
    }
}
