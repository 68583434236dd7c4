using System.Text.Json;

namespace Qwen3Next.Checkpoint;

/// <summary>
/// The config.json fields Qwen3-Next uses. Sizes are required; flags the published config
/// may omit take Hugging Face's Qwen3NextConfig defaults. <see cref="Parse"/> validates.
/// </summary>
public sealed record ModelConfig
{
    public const string ExpectedModelType = "qwen3_next";

    private const long MaxConfigBytes = 16L * 1024 * 1024;

    public string SourceName { get; init; } = "config.json";

    public string ModelType { get; init; } = ExpectedModelType;

    public int VocabSize { get; init; }

    public int HiddenSize { get; init; }

    public int NumHiddenLayers { get; init; }

    public int NumAttentionHeads { get; init; }

    public int NumKeyValueHeads { get; init; }

    public int HeadDim { get; init; }

    public double PartialRotaryFactor { get; init; } = 0.25;

    public double RopeTheta { get; init; } = 10_000;

    /// <summary>Leading dims of each head that get RoPE; the rest pass through.</summary>
    public int RotaryDim => (int)(HeadDim * PartialRotaryFactor);

    public int LinearNumKeyHeads { get; init; }

    public int LinearNumValueHeads { get; init; }

    public int LinearKeyHeadDim { get; init; }

    public int LinearValueHeadDim { get; init; }

    public int LinearConvKernelDim { get; init; } = 4;

    /// <summary>Conv channels: [q (Hk*Dk) | k (Hk*Dk) | v (Hv*Dv)].</summary>
    public int ConvDim => (2 * LinearNumKeyHeads * LinearKeyHeadDim) + (LinearNumValueHeads * LinearValueHeadDim);

    public int NumExperts { get; init; }

    public int NumExpertsPerTok { get; init; }

    public int MoeIntermediateSize { get; init; }

    public int SharedExpertIntermediateSize { get; init; }

    /// <summary>Dense-MLP width; unused because every layer is MoE.</summary>
    public int? IntermediateSize { get; init; }

    public bool NormTopkProb { get; init; } = true;

    public int DecoderSparseStep { get; init; } = 1;

    public int[] MlpOnlyLayers { get; init; } = [];

    public double RmsNormEps { get; init; } = 1e-6;

    public string HiddenAct { get; init; } = "silu";

    public bool AttentionBias { get; init; }

    public bool TieWordEmbeddings { get; init; }

    public int MaxPositionEmbeddings { get; init; } = 32768;

    public string TorchDtype { get; init; } = "bfloat16";

    public int? BosTokenId { get; init; }

    /// <summary>The first end-of-sequence id; <see cref="EosTokenIds"/> keeps all of them.</summary>
    public int? EosTokenId { get; init; }

    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    public int FullAttentionInterval { get; init; } = 4;

    public IReadOnlyList<LayerKind> LayerTypes { get; init; } = [];

    public IEnumerable<int> FullAttentionLayers =>
        Enumerable.Range(0, LayerTypes.Count).Where(i => LayerTypes[i] == LayerKind.FullAttention);

    public static ModelConfig Load(string configJsonPath)
    {
        string fullPath = Path.GetFullPath(configJsonPath);
        string json;
        try
        {
            var info = new FileInfo(fullPath);
            if (info.Exists && info.Length > MaxConfigBytes)
            {
                throw new ConfigException($"file is {info.Length} bytes, over the {MaxConfigBytes}-byte limit", fullPath);
            }

            json = File.ReadAllText(fullPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"cannot read: {e.Message}", fullPath, inner: e);
        }

        return Parse(json, fullPath);
    }

    public static ModelConfig Parse(string json, string sourceName)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new ConfigException($"not valid JSON: {e.Message}", sourceName, inner: e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ConfigException($"must be a JSON object, found {document.RootElement.ValueKind}", sourceName);
            }

            var config = FromJson(new ConfigJsonReader(document.RootElement, sourceName));
            config.Validate();
            return config;
        }
    }

    /// <summary>Checks that the values are usable and agree with each other.</summary>
    /// <exception cref="ConfigException">Names the offending key.</exception>
    public void Validate() => ModelConfigValidation.Check(this);

    private static ModelConfig FromJson(ConfigJsonReader json)
    {
        int layers = json.Int("num_hidden_layers");
        int interval = json.Int("full_attention_interval", 4);
        var eos = json.OptionalIntList("eos_token_id") ?? [];
        return new ModelConfig
        {
            SourceName = json.Source,
            ModelType = json.String("model_type", ExpectedModelType),
            VocabSize = json.Int("vocab_size"),
            HiddenSize = json.Int("hidden_size"),
            NumHiddenLayers = layers,
            NumAttentionHeads = json.Int("num_attention_heads"),
            NumKeyValueHeads = json.Int("num_key_value_heads"),
            HeadDim = json.Int("head_dim"),
            PartialRotaryFactor = json.Double("partial_rotary_factor", 0.25),
            RopeTheta = json.Double("rope_theta", 10_000),
            LinearNumKeyHeads = json.Int("linear_num_key_heads"),
            LinearNumValueHeads = json.Int("linear_num_value_heads"),
            LinearKeyHeadDim = json.Int("linear_key_head_dim"),
            LinearValueHeadDim = json.Int("linear_value_head_dim"),
            LinearConvKernelDim = json.Int("linear_conv_kernel_dim", 4),
            NumExperts = json.Int("num_experts"),
            NumExpertsPerTok = json.Int("num_experts_per_tok"),
            MoeIntermediateSize = json.Int("moe_intermediate_size"),
            SharedExpertIntermediateSize = json.Int("shared_expert_intermediate_size"),
            IntermediateSize = json.OptionalInt("intermediate_size"),
            NormTopkProb = json.Bool("norm_topk_prob", true),
            DecoderSparseStep = json.Int("decoder_sparse_step", 1),
            MlpOnlyLayers = json.OptionalIntList("mlp_only_layers") ?? [],
            RmsNormEps = json.Double("rms_norm_eps", 1e-6),
            HiddenAct = json.String("hidden_act", "silu"),
            AttentionBias = json.Bool("attention_bias", false),
            TieWordEmbeddings = json.Bool("tie_word_embeddings", false),
            MaxPositionEmbeddings = json.Int("max_position_embeddings", 32768),
            TorchDtype = json.OptionalString("torch_dtype") ?? json.String("dtype", "bfloat16"),
            BosTokenId = json.OptionalInt("bos_token_id"),
            EosTokenId = eos.Length > 0 ? eos[0] : null,
            EosTokenIds = eos,
            FullAttentionInterval = interval,
            LayerTypes = ReadLayerTypes(json, layers, interval),
        };
    }

    private static LayerKind[] ReadLayerTypes(ConfigJsonReader json, int layers, int interval)
    {
        var names = json.OptionalStringList("layer_types");
        if (names is not null)
        {
            return names.Select((name, i) => name switch
            {
                "linear_attention" => LayerKind.LinearAttention,
                "full_attention" => LayerKind.FullAttention,
                _ => throw new ConfigException(
                    $"entry {i} is '{name}': expected 'linear_attention' or 'full_attention'", json.Source, "layer_types"),
            }).ToArray();
        }

        if (interval <= 0)
        {
            throw new ConfigException($"must be positive, found {interval}", json.Source, "full_attention_interval");
        }

        return Enumerable.Range(0, Math.Max(layers, 0))
            .Select(i => (i + 1) % interval == 0 ? LayerKind.FullAttention : LayerKind.LinearAttention)
            .ToArray();
    }
}
