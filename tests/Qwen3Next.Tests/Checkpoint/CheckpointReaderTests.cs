using System.Text.Json.Nodes;
using NUnit.Framework;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Tests.Checkpoint;

public sealed class CheckpointReaderTests
{
    [Test]
    public void ShardedTinyModelExposesTheUnionOfItsShards()
    {
        using var reader = CheckpointReader.Open(GoldenData.TinyModel);
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(GoldenData.TinyModel, CheckpointReader.IndexFileName)))!;
        var weightMap = index["weight_map"]!.AsObject();
        Assert.That(reader.Files, Has.Count.EqualTo(2));
        Assert.That(reader.IndexPath, Is.EqualTo(Path.Combine(GoldenData.TinyModel, CheckpointReader.IndexFileName)));
        Assert.That(reader.Tensors, Has.Count.EqualTo(weightMap.Count));
        Assert.That(reader.Tensors.Values.Sum(v => v.ByteLength), Is.EqualTo((long)index["metadata"]!["total_size"]!));
        foreach (var (name, shard) in weightMap)
        {
            Assert.That(Path.GetFileName(reader[name].File), Is.EqualTo((string)shard!), name);
        }
    }

    [Test]
    public void SingleSafeTensorsFileOpensDirectly()
    {
        string shard = Path.Combine(GoldenData.TinyModel, "model-00002-of-00002.safetensors");
        using var reader = CheckpointReader.Open(shard);
        Assert.That(reader.Files, Is.EqualTo(new[] { shard }));
        Assert.That(reader.Tensors, Has.Count.EqualTo(441));
        Assert.That(reader.TryGet("lm_head.weight", out var lmHead), Is.True);
        Assert.That(lmHead!.Shape, Is.EqualTo(new long[] { 512, 128 }));
    }

    [Test]
    public void FolderWithOneModelSafeTensorsFileWorks()
    {
        using var folder = new TempFolder();
        GoldenData.WriteTinyModelCopy(folder.Path);
        using var single = CheckpointReader.Open(folder.Path);
        using var sharded = CheckpointReader.Open(GoldenData.TinyModel);
        Assert.That(single.IndexPath, Is.Null);
        Assert.That(single.Files, Is.EqualTo(new[] { folder.File(CheckpointReader.SingleFileName) }));
        Assert.That(single.Tensors.Keys, Is.EquivalentTo(sharded.Tensors.Keys));
        string name = "model.layers.3.self_attn.q_proj.weight";
        Assert.That(single[name].AsBF16().SequenceEqual(sharded[name].AsBF16()), Is.True);
    }

    [Test]
    public void DuplicateTensorAcrossShardsIsRejected()
    {
        using var folder = new TempFolder();
        SafeTensorsWriter.Write(folder.File("a.safetensors"), [WrittenTensor.F32("x", [1], 1f)]);
        SafeTensorsWriter.Write(folder.File("b.safetensors"), [WrittenTensor.F32("x", [1], 2f), WrittenTensor.F32("y", [1], 3f)]);
        WriteIndex(folder, ("x", "a.safetensors"), ("y", "b.safetensors"));
        var error = Assert.Throws<DuplicateTensorException>(() => CheckpointReader.Open(folder.Path).Dispose());
        SafeTensorsFileTests.AssertNames(error, folder.File("b.safetensors"), "x");
        Assert.That(error!.Message, Does.Contain(folder.File("a.safetensors")));
    }

    [Test]
    public void IndexThatIsNotJsonIsRejected()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.File(CheckpointReader.IndexFileName), "{\"weight_map\": ");
        var error = Assert.Throws<SafeTensorsFormatException>(() => CheckpointReader.Open(folder.Path).Dispose());
        SafeTensorsFileTests.AssertNames(error, folder.File(CheckpointReader.IndexFileName), null);
    }

    [Test]
    public void IndexWithoutWeightMapIsRejected()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.File(CheckpointReader.IndexFileName), "{\"metadata\": {}}");
        var error = Assert.Throws<SafeTensorsFormatException>(() => CheckpointReader.Open(folder.Path).Dispose());
        Assert.That(error!.Message, Does.Contain("weight_map"));
    }

    [Test]
    public void IndexNamingAMissingShardIsRejected()
    {
        using var folder = new TempFolder();
        SafeTensorsWriter.Write(folder.File("a.safetensors"), [WrittenTensor.F32("x", [1], 1f)]);
        WriteIndex(folder, ("x", "a.safetensors"), ("y", "model-00009-of-00009.safetensors"));
        var error = Assert.Throws<SafeTensorsFormatException>(() => CheckpointReader.Open(folder.Path).Dispose());
        SafeTensorsFileTests.AssertNames(error, folder.File(CheckpointReader.IndexFileName), "y");
        Assert.That(error!.Message, Does.Contain("model-00009-of-00009.safetensors"));
    }

    [Test]
    public void IndexNamingAShardOutsideItsFolderIsRejected()
    {
        using var folder = new TempFolder();
        WriteIndex(folder, ("x", "../elsewhere.safetensors"));
        var error = Assert.Throws<SafeTensorsFormatException>(() => CheckpointReader.Open(folder.Path).Dispose());
        SafeTensorsFileTests.AssertNames(error, folder.File(CheckpointReader.IndexFileName), "x");
    }

    [Test]
    public void IndexListingATensorItsShardLacksIsRejected()
    {
        using var folder = new TempFolder();
        SafeTensorsWriter.Write(folder.File("a.safetensors"), [WrittenTensor.F32("x", [1], 1f)]);
        WriteIndex(folder, ("x", "a.safetensors"), ("z", "a.safetensors"));
        var error = Assert.Throws<MissingTensorException>(() => CheckpointReader.Open(folder.Path).Dispose());
        SafeTensorsFileTests.AssertNames(error, folder.File("a.safetensors"), "z");
    }

    [Test]
    public void ShardTensorMissingFromTheIndexIsRejected()
    {
        using var folder = new TempFolder();
        SafeTensorsWriter.Write(folder.File("a.safetensors"), [WrittenTensor.F32("x", [1], 1f), WrittenTensor.F32("w", [1], 1f)]);
        WriteIndex(folder, ("x", "a.safetensors"));
        var error = Assert.Throws<SafeTensorsFormatException>(() => CheckpointReader.Open(folder.Path).Dispose());
        SafeTensorsFileTests.AssertNames(error, folder.File(CheckpointReader.IndexFileName), "w");
    }

    [Test]
    public void FolderWithoutWeightsIsRejected()
    {
        using var folder = new TempFolder();
        var error = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(folder.Path).Dispose());
        Assert.That(error!.Message, Does.Contain(folder.Path));
    }

    [Test]
    public void MissingTensorNamesTheCheckpoint()
    {
        using var reader = CheckpointReader.Open(GoldenData.TinyModel);
        var error = Assert.Throws<MissingTensorException>(() => _ = reader["model.layers.99.mlp.gate.weight"]);
        SafeTensorsFileTests.AssertNames(error, reader.IndexPath!, "model.layers.99.mlp.gate.weight");
    }

    private static void WriteIndex(TempFolder folder, params (string Tensor, string Shard)[] entries)
    {
        var weightMap = new JsonObject();
        foreach (var (tensor, shard) in entries)
        {
            weightMap[tensor] = shard;
        }

        var index = new JsonObject { ["metadata"] = new JsonObject(), ["weight_map"] = weightMap };
        File.WriteAllText(folder.File(CheckpointReader.IndexFileName), index.ToJsonString());
    }
}
