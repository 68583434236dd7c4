namespace Qwen3Next.Checkpoint;

/// <summary>
/// Tensor names and shapes of the published Qwen3-Next checkpoint, derived from a config.
/// Linear weights are [out, in]; per-expert tensors are stored separately (not fused).
/// </summary>
public static class WeightNames
{
    public const string EmbedTokens = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string LmHead = "lm_head.weight";

    /// <summary>Multi-token-prediction tensors, which HF ignores on load and so do we.</summary>
    public const string SkippedPrefix = "mtp.";

    public static bool IsSkipped(string name) => name.StartsWith(SkippedPrefix, StringComparison.Ordinal);

    public static string Layer(int layer, string suffix) => $"model.layers.{layer}.{suffix}";

    public static string LinearAttention(int layer, string suffix) => Layer(layer, "linear_attn." + suffix);

    public static string SelfAttention(int layer, string suffix) => Layer(layer, "self_attn." + suffix);

    public static string Mlp(int layer, string suffix) => Layer(layer, "mlp." + suffix);

    /// <param name="projection">"gate_proj", "up_proj" or "down_proj".</param>
    public static string Expert(int layer, int expert, string projection) => Mlp(layer, $"experts.{expert}.{projection}.weight");

    public static string SharedExpert(int layer, string projection) => Mlp(layer, $"shared_expert.{projection}.weight");

    public static IReadOnlyDictionary<string, long[]> ExpectedShapes(ModelConfig c) =>
        Expected(c).ToDictionary(spec => spec.Name, spec => spec.Shape, StringComparer.Ordinal);

    /// <summary>Every tensor the model needs, in checkpoint order (global, then layer by layer).</summary>
    public static IReadOnlyList<WeightSpec> Expected(ModelConfig c)
    {
        const string Hidden = "hidden_size";
        var specs = new List<WeightSpec>
        {
            Matrix(EmbedTokens, (c.VocabSize, "vocab_size"), (c.HiddenSize, Hidden)),
        };

        string qkvz = "2*linear_num_key_heads*linear_key_head_dim + 2*linear_num_value_heads*linear_value_head_dim";
        string conv = "2*linear_num_key_heads*linear_key_head_dim + linear_num_value_heads*linear_value_head_dim";
        string linearValue = "linear_num_value_heads*linear_value_head_dim";
        long qkvzRows = (2L * c.LinearNumKeyHeads * c.LinearKeyHeadDim) + (2L * c.LinearNumValueHeads * c.LinearValueHeadDim);
        long linearValueWidth = (long)c.LinearNumValueHeads * c.LinearValueHeadDim;
        long attentionWidth = (long)c.NumAttentionHeads * c.HeadDim;
        long kvWidth = (long)c.NumKeyValueHeads * c.HeadDim;

        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            specs.Add(Vector(Layer(i, "input_layernorm.weight"), (c.HiddenSize, Hidden)));
            specs.Add(Vector(Layer(i, "post_attention_layernorm.weight"), (c.HiddenSize, Hidden)));
            if (c.LayerTypes[i] == LayerKind.LinearAttention)
            {
                specs.Add(Matrix(LinearAttention(i, "in_proj_qkvz.weight"), (qkvzRows, qkvz), (c.HiddenSize, Hidden)));
                specs.Add(Matrix(LinearAttention(i, "in_proj_ba.weight"), (2L * c.LinearNumValueHeads, "2*linear_num_value_heads"), (c.HiddenSize, Hidden)));
                specs.Add(Matrix(LinearAttention(i, "conv1d.weight"), (c.ConvDim, conv), (1, "1 (depthwise)"), (c.LinearConvKernelDim, "linear_conv_kernel_dim")));
                specs.Add(Vector(LinearAttention(i, "dt_bias"), (c.LinearNumValueHeads, "linear_num_value_heads")));
                specs.Add(Vector(LinearAttention(i, "A_log"), (c.LinearNumValueHeads, "linear_num_value_heads")));
                specs.Add(Vector(LinearAttention(i, "norm.weight"), (c.LinearValueHeadDim, "linear_value_head_dim")));
                specs.Add(Matrix(LinearAttention(i, "out_proj.weight"), (c.HiddenSize, Hidden), (linearValueWidth, linearValue)));
            }
            else
            {
                specs.Add(Matrix(SelfAttention(i, "q_proj.weight"), (2 * attentionWidth, "2*num_attention_heads*head_dim"), (c.HiddenSize, Hidden)));
                specs.Add(Matrix(SelfAttention(i, "k_proj.weight"), (kvWidth, "num_key_value_heads*head_dim"), (c.HiddenSize, Hidden)));
                specs.Add(Matrix(SelfAttention(i, "v_proj.weight"), (kvWidth, "num_key_value_heads*head_dim"), (c.HiddenSize, Hidden)));
                specs.Add(Matrix(SelfAttention(i, "o_proj.weight"), (c.HiddenSize, Hidden), (attentionWidth, "num_attention_heads*head_dim")));
                specs.Add(Vector(SelfAttention(i, "q_norm.weight"), (c.HeadDim, "head_dim")));
                specs.Add(Vector(SelfAttention(i, "k_norm.weight"), (c.HeadDim, "head_dim")));
            }

            AddMoe(specs, c, i);
        }

        specs.Add(Vector(FinalNorm, (c.HiddenSize, Hidden)));
        if (!c.TieWordEmbeddings)
        {
            specs.Add(Matrix(LmHead, (c.VocabSize, "vocab_size"), (c.HiddenSize, Hidden)));
        }

        return specs;
    }

    private static void AddMoe(List<WeightSpec> specs, ModelConfig c, int i)
    {
        const string Hidden = "hidden_size";
        const string Moe = "moe_intermediate_size";
        const string Shared = "shared_expert_intermediate_size";
        specs.Add(Matrix(Mlp(i, "gate.weight"), (c.NumExperts, "num_experts"), (c.HiddenSize, Hidden)));
        for (int e = 0; e < c.NumExperts; e++)
        {
            specs.Add(Matrix(Expert(i, e, "gate_proj"), (c.MoeIntermediateSize, Moe), (c.HiddenSize, Hidden)));
            specs.Add(Matrix(Expert(i, e, "up_proj"), (c.MoeIntermediateSize, Moe), (c.HiddenSize, Hidden)));
            specs.Add(Matrix(Expert(i, e, "down_proj"), (c.HiddenSize, Hidden), (c.MoeIntermediateSize, Moe)));
        }

        specs.Add(Matrix(SharedExpert(i, "gate_proj"), (c.SharedExpertIntermediateSize, Shared), (c.HiddenSize, Hidden)));
        specs.Add(Matrix(SharedExpert(i, "up_proj"), (c.SharedExpertIntermediateSize, Shared), (c.HiddenSize, Hidden)));
        specs.Add(Matrix(SharedExpert(i, "down_proj"), (c.HiddenSize, Hidden), (c.SharedExpertIntermediateSize, Shared)));
        specs.Add(Matrix(Mlp(i, "shared_expert_gate.weight"), (1, "1 (one gate per token)"), (c.HiddenSize, Hidden)));
    }

    private static WeightSpec Matrix(string name, params (long Size, string Source)[] dims) =>
        new(name, dims.Select(d => d.Size).ToArray(), dims.Select(d => d.Source).ToArray(), IsSmallVector: false);

    private static WeightSpec Vector(string name, (long Size, string Source) dim) =>
        new(name, [dim.Size], [dim.Source], IsSmallVector: true);
}
