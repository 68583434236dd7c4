namespace Qwen3Next.Checkpoint;

/// <summary>The consistency rules behind <see cref="ModelConfig.Validate"/>.</summary>
internal static class ModelConfigValidation
{
    public static void Check(ModelConfig c)
    {
        string source = c.SourceName;
        if (c.ModelType != ModelConfig.ExpectedModelType)
        {
            throw new ConfigException($"is '{c.ModelType}', expected '{ModelConfig.ExpectedModelType}'", source, "model_type");
        }

        Positive(source, "vocab_size", c.VocabSize);
        Positive(source, "hidden_size", c.HiddenSize);
        Positive(source, "num_hidden_layers", c.NumHiddenLayers);
        Positive(source, "num_attention_heads", c.NumAttentionHeads);
        Positive(source, "num_key_value_heads", c.NumKeyValueHeads);
        Positive(source, "head_dim", c.HeadDim);
        Positive(source, "linear_num_key_heads", c.LinearNumKeyHeads);
        Positive(source, "linear_num_value_heads", c.LinearNumValueHeads);
        Positive(source, "linear_key_head_dim", c.LinearKeyHeadDim);
        Positive(source, "linear_value_head_dim", c.LinearValueHeadDim);
        Positive(source, "linear_conv_kernel_dim", c.LinearConvKernelDim);
        Positive(source, "num_experts", c.NumExperts);
        Positive(source, "num_experts_per_tok", c.NumExpertsPerTok);
        Positive(source, "moe_intermediate_size", c.MoeIntermediateSize);
        Positive(source, "shared_expert_intermediate_size", c.SharedExpertIntermediateSize);
        Positive(source, "max_position_embeddings", c.MaxPositionEmbeddings);
        Positive(source, "full_attention_interval", c.FullAttentionInterval);

        Require(c.NumAttentionHeads % c.NumKeyValueHeads == 0, source, "num_key_value_heads",
            $"{c.NumKeyValueHeads} does not divide num_attention_heads = {c.NumAttentionHeads}");
        Require(c.LinearNumValueHeads % c.LinearNumKeyHeads == 0, source, "linear_num_key_heads",
            $"{c.LinearNumKeyHeads} does not divide linear_num_value_heads = {c.LinearNumValueHeads}");
        Require(c.NumExpertsPerTok <= c.NumExperts, source, "num_experts_per_tok",
            $"{c.NumExpertsPerTok} exceeds num_experts = {c.NumExperts}");
        Require(c.PartialRotaryFactor > 0 && c.PartialRotaryFactor <= 1, source, "partial_rotary_factor",
            $"{c.PartialRotaryFactor} is outside (0, 1]");
        Require(c.RotaryDim > 0 && c.RotaryDim % 2 == 0 && c.RotaryDim <= c.HeadDim, source, "partial_rotary_factor",
            $"rotary dim head_dim * partial_rotary_factor = {c.RotaryDim} must be even, positive and <= head_dim = {c.HeadDim}");
        Require(c.RopeTheta > 0, source, "rope_theta", $"{c.RopeTheta} must be positive");
        Require(c.RmsNormEps > 0, source, "rms_norm_eps", $"{c.RmsNormEps} must be positive");
        Require(c.LayerTypes.Count == c.NumHiddenLayers, source, "layer_types",
            $"has {c.LayerTypes.Count} entries but num_hidden_layers = {c.NumHiddenLayers}");
        Require(c.HiddenAct == "silu", source, "hidden_act", $"'{c.HiddenAct}' is not supported (only silu)");
        Require(!c.AttentionBias, source, "attention_bias", "true is not supported (the model has no projection biases)");
        Require(c.DecoderSparseStep == 1, source, "decoder_sparse_step",
            $"is {c.DecoderSparseStep}: dense MLP layers not supported (every layer must be MoE)");
        Require(c.MlpOnlyLayers.Length == 0, source, "mlp_only_layers",
            $"[{string.Join(", ", c.MlpOnlyLayers)}]: dense MLP layers not supported (every layer must be MoE)");
        TokenId(source, "bos_token_id", c.BosTokenId, c.VocabSize);
        foreach (int eos in c.EosTokenIds)
        {
            TokenId(source, "eos_token_id", eos, c.VocabSize);
        }
    }

    private static void Positive(string source, string key, int value) =>
        Require(value > 0, source, key, $"must be positive, found {value}");

    private static void TokenId(string source, string key, int? id, int vocabSize) =>
        Require(id is null || (id >= 0 && id < vocabSize), source, key, $"{id} is outside the vocabulary [0, {vocabSize})");

    private static void Require(bool condition, string source, string key, string detail)
    {
        if (!condition)
        {
            throw new ConfigException(detail, source, key);
        }
    }
}
