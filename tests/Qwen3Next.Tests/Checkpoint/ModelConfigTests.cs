using System.Text.Json.Nodes;
using NUnit.Framework;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Tests.Checkpoint;

public sealed class ModelConfigTests
{
    private const LayerKind L = LayerKind.LinearAttention;
    private const LayerKind F = LayerKind.FullAttention;

    [Test]
    public void TinyConfigLoads()
    {
        var c = ModelConfig.Load(Path.Combine(GoldenData.TinyModel, "config.json"));
        Assert.That(c.VocabSize, Is.EqualTo(512));
        Assert.That(c.HiddenSize, Is.EqualTo(128));
        Assert.That(c.NumHiddenLayers, Is.EqualTo(8));
        Assert.That(c.NumAttentionHeads, Is.EqualTo(4));
        Assert.That(c.NumKeyValueHeads, Is.EqualTo(2));
        Assert.That(c.HeadDim, Is.EqualTo(64));
        Assert.That(c.RotaryDim, Is.EqualTo(16));
        Assert.That(c.RopeTheta, Is.EqualTo(1e7));
        Assert.That(c.LinearNumKeyHeads, Is.EqualTo(2));
        Assert.That(c.LinearNumValueHeads, Is.EqualTo(4));
        Assert.That(c.LinearKeyHeadDim, Is.EqualTo(32));
        Assert.That(c.LinearValueHeadDim, Is.EqualTo(32));
        Assert.That(c.LinearConvKernelDim, Is.EqualTo(4));
        Assert.That(c.ConvDim, Is.EqualTo(256));
        Assert.That(c.NumExperts, Is.EqualTo(32));
        Assert.That(c.NumExpertsPerTok, Is.EqualTo(10));
        Assert.That(c.MoeIntermediateSize, Is.EqualTo(32));
        Assert.That(c.SharedExpertIntermediateSize, Is.EqualTo(64));
        Assert.That(c.NormTopkProb, Is.True);
        Assert.That(c.RmsNormEps, Is.EqualTo(1e-6));
        Assert.That(c.TieWordEmbeddings, Is.False);
        Assert.That(c.TorchDtype, Is.EqualTo("bfloat16"));
        Assert.That(c.BosTokenId, Is.EqualTo(1));
        Assert.That(c.EosTokenId, Is.EqualTo(2));
        Assert.That(c.MaxPositionEmbeddings, Is.EqualTo(4096));
        Assert.That(c.LayerTypes, Is.EqualTo(new[] { L, L, L, F, L, L, L, F }));
    }

    [Test]
    public void PublishedConfigDerivesLayerKindsFromTheInterval()
    {
        var c = ModelConfig.Parse(PublishedConfig.Json, "published");
        Assert.That(c.LayerTypes, Has.Count.EqualTo(48));
        Assert.That(c.FullAttentionLayers, Is.EqualTo(Enumerable.Range(0, 12).Select(i => (4 * i) + 3)));
        Assert.That(c.RotaryDim, Is.EqualTo(64));
        Assert.That(c.ConvDim, Is.EqualTo(8192));
        Assert.That(c.EosTokenIds, Is.EqualTo(new[] { 151645 }));
    }

    [Test]
    public void PublishedConfigImpliesTheSpecShapesAndParameterCount()
    {
        var shapes = WeightNames.ExpectedShapes(ModelConfig.Parse(PublishedConfig.Json, "published"));
        Assert.That(shapes[WeightNames.EmbedTokens], Is.EqualTo(new long[] { 151936, 2048 }));
        Assert.That(shapes[WeightNames.LmHead], Is.EqualTo(new long[] { 151936, 2048 }));
        Assert.That(shapes[WeightNames.FinalNorm], Is.EqualTo(new long[] { 2048 }));
        Assert.That(shapes["model.layers.0.linear_attn.in_proj_qkvz.weight"], Is.EqualTo(new long[] { 12288, 2048 }));
        Assert.That(shapes["model.layers.0.linear_attn.in_proj_ba.weight"], Is.EqualTo(new long[] { 64, 2048 }));
        Assert.That(shapes["model.layers.0.linear_attn.conv1d.weight"], Is.EqualTo(new long[] { 8192, 1, 4 }));
        Assert.That(shapes["model.layers.0.linear_attn.dt_bias"], Is.EqualTo(new long[] { 32 }));
        Assert.That(shapes["model.layers.0.linear_attn.A_log"], Is.EqualTo(new long[] { 32 }));
        Assert.That(shapes["model.layers.0.linear_attn.norm.weight"], Is.EqualTo(new long[] { 128 }));
        Assert.That(shapes["model.layers.0.linear_attn.out_proj.weight"], Is.EqualTo(new long[] { 2048, 4096 }));
        Assert.That(shapes["model.layers.47.self_attn.q_proj.weight"], Is.EqualTo(new long[] { 8192, 2048 }));
        Assert.That(shapes["model.layers.47.self_attn.k_proj.weight"], Is.EqualTo(new long[] { 512, 2048 }));
        Assert.That(shapes["model.layers.47.self_attn.v_proj.weight"], Is.EqualTo(new long[] { 512, 2048 }));
        Assert.That(shapes["model.layers.47.self_attn.o_proj.weight"], Is.EqualTo(new long[] { 2048, 4096 }));
        Assert.That(shapes["model.layers.47.self_attn.q_norm.weight"], Is.EqualTo(new long[] { 256 }));
        Assert.That(shapes["model.layers.47.self_attn.k_norm.weight"], Is.EqualTo(new long[] { 256 }));
        Assert.That(shapes["model.layers.5.mlp.gate.weight"], Is.EqualTo(new long[] { 512, 2048 }));
        Assert.That(shapes["model.layers.5.mlp.experts.511.gate_proj.weight"], Is.EqualTo(new long[] { 512, 2048 }));
        Assert.That(shapes["model.layers.5.mlp.experts.511.up_proj.weight"], Is.EqualTo(new long[] { 512, 2048 }));
        Assert.That(shapes["model.layers.5.mlp.experts.511.down_proj.weight"], Is.EqualTo(new long[] { 2048, 512 }));
        Assert.That(shapes["model.layers.5.mlp.shared_expert.gate_proj.weight"], Is.EqualTo(new long[] { 512, 2048 }));
        Assert.That(shapes["model.layers.5.mlp.shared_expert.down_proj.weight"], Is.EqualTo(new long[] { 2048, 512 }));
        Assert.That(shapes["model.layers.5.mlp.shared_expert_gate.weight"], Is.EqualTo(new long[] { 1, 2048 }));
        Assert.That(shapes.ContainsKey("model.layers.3.linear_attn.A_log"), Is.False);
        Assert.That(shapes.ContainsKey("model.layers.4.self_attn.q_proj.weight"), Is.False);

        const int MoeTensorsPerLayer = 1 + (512 * 3) + 4;
        Assert.That(shapes, Has.Count.EqualTo(3 + (36 * (2 + 7 + MoeTensorsPerLayer)) + (12 * (2 + 6 + MoeTensorsPerLayer))));
        long parameters = shapes.Values.Sum(shape => shape.Aggregate(1L, (product, dim) => product * dim));
        Assert.That(parameters, Is.EqualTo(79_674_391_296L));
    }

    [Test]
    public void EosListKeepsEveryIdAndDTypeKeyIsAccepted()
    {
        var c = Parse(json =>
        {
            json["eos_token_id"] = new JsonArray(151645, 151643);
            json.Remove("torch_dtype");
            json["dtype"] = "float32";
        });
        Assert.That(c.EosTokenId, Is.EqualTo(151645));
        Assert.That(c.EosTokenIds, Is.EqualTo(new[] { 151645, 151643 }));
        Assert.That(c.TorchDtype, Is.EqualTo("float32"));
    }

    [Test]
    public void LayerTypesWinOverTheInterval()
    {
        var c = Parse(json => json["layer_types"] = new JsonArray(
            Enumerable.Range(0, 48).Select(i => (JsonNode?)(i == 0 ? "full_attention" : "linear_attention")).ToArray()));
        Assert.That(c.FullAttentionLayers, Is.EqualTo(new[] { 0 }));
    }

    [TestCase("layer_types", "entries")]
    [TestCase("num_key_value_heads", "does not divide")]
    [TestCase("linear_num_key_heads", "does not divide")]
    [TestCase("num_experts_per_tok", "exceeds")]
    [TestCase("mlp_only_layers", "dense MLP layers not supported")]
    [TestCase("decoder_sparse_step", "dense MLP layers not supported")]
    [TestCase("hidden_act", "only silu")]
    [TestCase("partial_rotary_factor", "even")]
    [TestCase("hidden_size", "must be positive")]
    [TestCase("attention_bias", "not supported")]
    [TestCase("eos_token_id", "outside the vocabulary")]
    [TestCase("model_type", "qwen3_next")]
    public void InconsistentValuesAreRejectedNamingTheKey(string key, string detail)
    {
        Action<JsonObject> edit = key switch
        {
            "layer_types" => json => json["layer_types"] = new JsonArray("linear_attention", "full_attention"),
            "num_key_value_heads" => json => json["num_key_value_heads"] = 3,
            "linear_num_key_heads" => json => json["linear_num_key_heads"] = 5,
            "num_experts_per_tok" => json => json["num_experts_per_tok"] = 513,
            "mlp_only_layers" => json => json["mlp_only_layers"] = new JsonArray(0, 1),
            "decoder_sparse_step" => json => json["decoder_sparse_step"] = 2,
            "hidden_act" => json => json["hidden_act"] = "gelu",
            "partial_rotary_factor" => json => json["partial_rotary_factor"] = 3.0 / 256,
            "hidden_size" => json => json["hidden_size"] = 0,
            "attention_bias" => json => json["attention_bias"] = true,
            "eos_token_id" => json => json["eos_token_id"] = 151936,
            _ => json => json["model_type"] = "qwen3_moe",
        };
        var error = Assert.Throws<ConfigException>(() => Parse(edit));
        Assert.That(error!.Key, Is.EqualTo(key));
        Assert.That(error.File, Is.EqualTo("published"));
        Assert.That(error.Message, Does.Contain("published").And.Contain($"'{key}'").And.Contain(detail));
    }

    [TestCase("vocab_size", null, "missing")]
    [TestCase("hidden_size", "\"big\"", "32-bit integer")]
    [TestCase("head_dim", "64.5", "32-bit integer")]
    [TestCase("rope_theta", "\"1e7\"", "finite number")]
    [TestCase("norm_topk_prob", "1", "true or false")]
    [TestCase("layer_types", "[\"sliding_attention\"]", "sliding_attention")]
    [TestCase("mlp_only_layers", "{}", "list of integers")]
    public void MissingOrMistypedKeysAreRejected(string key, string? rawValue, string detail)
    {
        var error = Assert.Throws<ConfigException>(() => Parse(json =>
        {
            json.Remove(key);
            if (rawValue is not null)
            {
                json[key] = JsonNode.Parse(rawValue);
            }
        }));
        Assert.That(error!.Key, Is.EqualTo(key));
        Assert.That(error.Message, Does.Contain($"'{key}'").And.Contain(detail));
    }

    [Test]
    public void InvalidJsonIsRejectedNamingTheFile()
    {
        var error = Assert.Throws<ConfigException>(() => ModelConfig.Parse("{\"vocab_size\": ", "broken.json"));
        Assert.That(error!.File, Is.EqualTo("broken.json"));
        Assert.That(error.Message, Does.StartWith("broken.json: "));
    }

    [Test]
    public void IntegralFloatsAreAcceptedAsIntegers()
    {
        Assert.That(Parse(json => json["hidden_size"] = JsonNode.Parse("2048.0")).HiddenSize, Is.EqualTo(2048));
    }

    private static ModelConfig Parse(Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(PublishedConfig.Json)!.AsObject();
        edit(json);
        return ModelConfig.Parse(json.ToJsonString(), "published");
    }
}
