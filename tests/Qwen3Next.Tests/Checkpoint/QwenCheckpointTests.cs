using System.Buffers.Binary;
using System.Text.Json.Nodes;
using NUnit.Framework;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Tests.Checkpoint;

public sealed class QwenCheckpointTests
{
    private const string ALog = "model.layers.0.linear_attn.A_log";

    [Test]
    public void TinyModelOpensAndMatchesItsConfig()
    {
        using var checkpoint = QwenCheckpoint.Open(GoldenData.TinyModel);
        var c = checkpoint.Config;
        Assert.That(c.LayerTypes, Is.EqualTo(new[]
        {
            LayerKind.LinearAttention, LayerKind.LinearAttention, LayerKind.LinearAttention, LayerKind.FullAttention,
            LayerKind.LinearAttention, LayerKind.LinearAttention, LayerKind.LinearAttention, LayerKind.FullAttention,
        }));
        const int MoeTensorsPerLayer = 1 + (32 * 3) + 4;
        int expectedCount = 3 + (6 * (2 + 7 + MoeTensorsPerLayer)) + (2 * (2 + 6 + MoeTensorsPerLayer));
        Assert.That(checkpoint.Weights, Has.Count.EqualTo(expectedCount));
        Assert.That(checkpoint.Reader.Tensors, Has.Count.EqualTo(expectedCount));
        Assert.That(checkpoint.Reader.Tensors.Values.Select(v => v.DType), Has.All.EqualTo(DType.BF16));
        Assert.That(checkpoint.TotalBytes, Is.EqualTo(8_355_040L), "total_size in the index");
        Assert.That(checkpoint.BytesByDType[DType.BF16], Is.EqualTo(checkpoint.TotalBytes));

        Assert.That(checkpoint[WeightNames.EmbedTokens].Shape, Is.EqualTo(new long[] { 512, 128 }));
        Assert.That(checkpoint["model.layers.0.linear_attn.in_proj_qkvz.weight"].Shape, Is.EqualTo(new long[] { 384, 128 }));
        Assert.That(checkpoint["model.layers.0.linear_attn.in_proj_ba.weight"].Shape, Is.EqualTo(new long[] { 8, 128 }));
        Assert.That(checkpoint["model.layers.0.linear_attn.conv1d.weight"].Shape, Is.EqualTo(new long[] { 256, 1, 4 }));
        Assert.That(checkpoint["model.layers.3.self_attn.q_proj.weight"].Shape, Is.EqualTo(new long[] { 512, 128 }));
        Assert.That(checkpoint["model.layers.3.self_attn.k_proj.weight"].Shape, Is.EqualTo(new long[] { 128, 128 }));
        Assert.That(checkpoint["model.layers.7.mlp.experts.31.down_proj.weight"].Shape, Is.EqualTo(new long[] { 128, 32 }));
        Assert.That(checkpoint["model.layers.7.mlp.shared_expert.up_proj.weight"].Shape, Is.EqualTo(new long[] { 64, 128 }));
    }

    [Test]
    public void Bf16WidensByShiftingIntoTheHighHalf()
    {
        using var checkpoint = QwenCheckpoint.Open(GoldenData.TinyModel);
        var embed = checkpoint[WeightNames.EmbedTokens];
        Assert.That(embed.AsBF16()[..3].ToArray(), Is.EqualTo(new ushort[] { 0x3f5f, 0x3e33, 0x3fb8 }));
        float[] widened = embed.ToFloat32();
        Assert.That(widened[..3], Is.EqualTo(new[] { 0.87109375f, 0.1748046875f, 1.4375f }));
        var row = new float[embed.ElementCount];
        embed.CopyToFloat32(row);
        Assert.That(row, Is.EqualTo(widened));
    }

    [Test]
    public void SingleFileCopyWithMtpTensorsOpensAndSkipsThem()
    {
        using var folder = new TempFolder();
        GoldenData.WriteTinyModelCopy(folder.Path, tensors => tensors.Add(WrittenTensor.F32("mtp.fc.weight", [2, 2], 1, 2, 3, 4)));
        using var checkpoint = QwenCheckpoint.Open(folder.Path);
        Assert.That(checkpoint.Reader.Tensors.ContainsKey("mtp.fc.weight"), Is.True);
        Assert.That(checkpoint.Weights.Select(w => w.Name), Has.None.StartsWith("mtp."));
        Assert.That(checkpoint.TotalBytes, Is.EqualTo(8_355_040L));
        Assert.That(WeightNames.IsSkipped("mtp.fc.weight"), Is.True);
    }

    [Test]
    public void UnexpectedExtraTensorIsRejected()
    {
        using var folder = new TempFolder();
        const string Extra = "model.layers.8.input_layernorm.weight";
        GoldenData.WriteTinyModelCopy(folder.Path, tensors => tensors.Add(WrittenTensor.F32(Extra, [1], 0)));
        var error = Assert.Throws<UnexpectedTensorException>(() => QwenCheckpoint.Open(folder.Path).Dispose());
        SafeTensorsFileTests.AssertNames(error, folder.File(CheckpointReader.SingleFileName), Extra);
    }

    [Test]
    public void MissingTensorIsRejected()
    {
        using var folder = new TempFolder();
        GoldenData.WriteTinyModelCopy(folder.Path, tensors => tensors.RemoveAll(t => t.Name == WeightNames.FinalNorm));
        var error = Assert.Throws<MissingTensorException>(() => QwenCheckpoint.Open(folder.Path).Dispose());
        SafeTensorsFileTests.AssertNames(error, folder.File(CheckpointReader.SingleFileName), WeightNames.FinalNorm);
    }

    [Test]
    public void WrongShapeIsRejectedNamingTheConfigKey()
    {
        using var folder = new TempFolder();
        GoldenData.WriteTinyModelCopy(folder.Path, tensors => Replace(tensors, ALog, WrittenTensor.F32(ALog, [5], 0, 0, 0, 0, 0)));
        var error = Assert.Throws<TensorShapeException>(() => QwenCheckpoint.Open(folder.Path).Dispose());
        SafeTensorsFileTests.AssertNames(error, folder.File(CheckpointReader.SingleFileName), ALog);
        Assert.That(error!.ConfigKeys, Is.EqualTo(new[] { "linear_num_value_heads" }));
        Assert.That(error.Message, Does.Contain("linear_num_value_heads = 4"));
    }

    [Test]
    public void ConfigContradictingTheWeightsIsReported()
    {
        using var folder = new TempFolder();
        GoldenData.WriteTinyModelCopy(folder.Path, editConfig: json => json["hidden_size"] = 256);
        var error = Assert.Throws<TensorShapeException>(() => QwenCheckpoint.Open(folder.Path).Dispose());
        SafeTensorsFileTests.AssertNames(error, folder.File(CheckpointReader.SingleFileName), WeightNames.EmbedTokens);
        Assert.That(error!.ConfigKeys, Is.EqualTo(new[] { "hidden_size" }));
        Assert.That(error.Message, Does.Contain("hidden_size = 256").And.Contain(folder.File(QwenCheckpoint.ConfigFileName)));
    }

    [Test]
    public void ConfigWithMoreLayersThanTheWeightsIsReported()
    {
        using var folder = new TempFolder();
        GoldenData.WriteTinyModelCopy(folder.Path, editConfig: json =>
        {
            json["num_hidden_layers"] = 12;
            json.Remove("layer_types");
        });
        var error = Assert.Throws<MissingTensorException>(() => QwenCheckpoint.Open(folder.Path).Dispose());
        Assert.That(error!.Tensor, Is.EqualTo("model.layers.8.input_layernorm.weight"));
    }

    [Test]
    public void F32MatrixIsRejected()
    {
        using var folder = new TempFolder();
        string name = "model.layers.1.mlp.gate.weight";
        GoldenData.WriteTinyModelCopy(folder.Path, tensors => Replace(tensors, name, WidenToF32(tensors.Single(t => t.Name == name))));
        var error = Assert.Throws<TensorDTypeException>(() => QwenCheckpoint.Open(folder.Path).Dispose());
        SafeTensorsFileTests.AssertNames(error, folder.File(CheckpointReader.SingleFileName), name);
        Assert.That(error!.Message, Does.Contain("must be BF16"));
    }

    [Test]
    public void F32SmallVectorsAreAccepted()
    {
        using var folder = new TempFolder();
        string[] vectors = [ALog, "model.layers.0.linear_attn.dt_bias", "model.layers.3.self_attn.q_norm.weight", WeightNames.FinalNorm];
        GoldenData.WriteTinyModelCopy(folder.Path, tensors =>
        {
            foreach (string name in vectors)
            {
                Replace(tensors, name, WidenToF32(tensors.Single(t => t.Name == name)));
            }
        });
        using var checkpoint = QwenCheckpoint.Open(folder.Path);
        using var original = QwenCheckpoint.Open(GoldenData.TinyModel);
        Assert.That(checkpoint[ALog].DType, Is.EqualTo(DType.F32));
        Assert.That(checkpoint[ALog].ToFloat32(), Is.EqualTo(original[ALog].ToFloat32()));
        Assert.That(checkpoint.BytesByDType[DType.F32], Is.EqualTo(4L * (4 + 4 + 64 + 128)));
    }

    [Test]
    public void I64VectorIsRejected()
    {
        using var folder = new TempFolder();
        GoldenData.WriteTinyModelCopy(folder.Path, tensors => Replace(tensors, ALog, new WrittenTensor(ALog, "I64", [4], new byte[32])));
        var error = Assert.Throws<TensorDTypeException>(() => QwenCheckpoint.Open(folder.Path).Dispose());
        SafeTensorsFileTests.AssertNames(error, folder.File(CheckpointReader.SingleFileName), ALog);
    }

    private static void Replace(List<WrittenTensor> tensors, string name, WrittenTensor replacement) =>
        tensors[tensors.FindIndex(t => t.Name == name)] = replacement;

    private static WrittenTensor WidenToF32(WrittenTensor bf16)
    {
        var data = new byte[bf16.Data.Length * 2];
        for (int i = 0; i < bf16.Data.Length / 2; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(i * 4), (uint)BinaryPrimitives.ReadUInt16LittleEndian(bf16.Data.AsSpan(i * 2)) << 16);
        }

        return bf16 with { DType = "F32", Data = data };
    }
}
