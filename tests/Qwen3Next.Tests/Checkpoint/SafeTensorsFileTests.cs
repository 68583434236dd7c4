using System.Buffers.Binary;
using NUnit.Framework;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Tests.Checkpoint;

public sealed class SafeTensorsFileTests
{
    [Test]
    public void EveryGoldenFileOpensAndItsViewsCoverTheirBytes()
    {
        var paths = GoldenData.SafeTensorsFiles().ToList();
        Assert.That(paths, Has.Count.EqualTo(15), "12 kernel cases + golden.safetensors + 2 model shards");
        foreach (string path in paths)
        {
            using var file = SafeTensorsFile.Open(path);
            Assert.That(file.Tensors, Is.Not.Empty, path);
            Assert.That(file.Metadata, Is.Not.Empty, path);
            long covered = 0;
            foreach (var view in file.Tensors.Values)
            {
                Assert.That(view.ByteLength, Is.EqualTo(view.ElementCount * DTypeInfo.SizeOf(view.DType)), view.Name);
                Assert.That(view.File, Is.EqualTo(path));
                covered += view.ByteLength;
            }

            Assert.That(covered, Is.LessThanOrEqualTo(file.Length), path);
        }
    }

    [Test]
    public void KernelCaseMetadataAndInt64TensorsRead()
    {
        using var file = SafeTensorsFile.Open(Path.Combine(GoldenData.Root, "kernels", "moe_E64_k10.safetensors"));
        Assert.That(file.Metadata["op"], Is.EqualTo("moe_block"));
        var selected = file["selected_experts"];
        Assert.That(selected.DType, Is.EqualTo(DType.I64));
        Assert.That(selected.Shape, Is.EqualTo(new long[] { 33, 10 }));
        Assert.That(selected.ToInt64(), Has.All.InRange(0L, 63L));
        Assert.That(file["hidden_states"].ToFloat32(), Has.Length.EqualTo(33 * 128));
        Assert.That(file["gate.weight"].AsBF16().Length, Is.EqualTo(64 * 128));
    }

    [Test]
    public void ConversionsWidenEachDType()
    {
        using var folder = new TempFolder();
        string path = folder.File("types.safetensors");
        byte[] bf16 = [0x5f, 0x3f, 0x80, 0xbf]; // 0x3f5f = 0.87109375, 0xbf80 = -1
        byte[] f16 = new byte[4];
        BinaryPrimitives.WriteHalfLittleEndian(f16, (Half)0.5f);
        BinaryPrimitives.WriteHalfLittleEndian(f16.AsSpan(2), (Half)(-2f));
        byte[] i32 = new byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(i32, -7);
        BinaryPrimitives.WriteInt32LittleEndian(i32.AsSpan(4), 1 << 30);
        SafeTensorsWriter.Write(path,
        [
            new WrittenTensor("bf16", "BF16", [2], bf16),
            new WrittenTensor("f16", "F16", [1, 2], f16),
            WrittenTensor.F32("f32", [3], 1.5f, -0.25f, 3f),
            new WrittenTensor("i32", "I32", [2], i32),
            new WrittenTensor("empty", "F32", [0, 4], []),
        ]);

        using var file = SafeTensorsFile.Open(path);
        Assert.That(file["bf16"].ToFloat32(), Is.EqualTo(new[] { 0.87109375f, -1f }));
        Assert.That(file["bf16"].AsBF16().ToArray(), Is.EqualTo(new ushort[] { 0x3f5f, 0xbf80 }));
        Assert.That(file["f16"].ToFloat32(), Is.EqualTo(new[] { 0.5f, -2f }));
        Assert.That(file["f16"].Dim(1), Is.EqualTo(2));
        Assert.That(file["f32"].ToFloat32(), Is.EqualTo(new[] { 1.5f, -0.25f, 3f }));
        Assert.That(file["i32"].ToInt64(), Is.EqualTo(new long[] { -7, 1 << 30 }));
        Assert.That(file["empty"].ElementCount, Is.Zero);
        Assert.That(file["empty"].ToFloat32(), Is.Empty);
        Assert.That(file.Metadata, Is.Empty);
    }

    [Test]
    public void WrongDTypeAccessorsThrowTypedErrorsNamingFileAndTensor()
    {
        using var folder = new TempFolder();
        string path = Path.GetFullPath(folder.File("types.safetensors"));
        SafeTensorsWriter.Write(path,
        [
            WrittenTensor.F32("f32", [1], 1f),
            new WrittenTensor("i64", "I64", [1], new byte[8]),
        ]);
        using var file = SafeTensorsFile.Open(path);
        AssertNames(Assert.Throws<TensorDTypeException>(() => file["f32"].AsBF16()), path, "f32");
        AssertNames(Assert.Throws<TensorDTypeException>(() => file["i64"].ToFloat32()), path, "i64");
        AssertNames(Assert.Throws<TensorDTypeException>(() => file["f32"].ToInt64()), path, "f32");
        AssertNames(Assert.Throws<MissingTensorException>(() => _ = file["absent"]), path, "absent");
        Assert.That(file.TryGet("absent", out var none), Is.False);
        Assert.That(none, Is.Null);
    }

    [Test]
    public void ViewsRefuseDataAccessAfterDispose()
    {
        using var folder = new TempFolder();
        string path = folder.File("one.safetensors");
        SafeTensorsWriter.Write(path, [WrittenTensor.F32("x", [1], 1f)]);
        var file = SafeTensorsFile.Open(path);
        var view = file["x"];
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => view.ToFloat32());
    }

    [Test]
    public void OpenFileCanBeOpenedAgainForReading()
    {
        string path = Path.Combine(GoldenData.TinyModel, "model-00001-of-00002.safetensors");
        using var first = SafeTensorsFile.Open(path);
        using var second = SafeTensorsFile.Open(path);
        Assert.That(second.Tensors, Has.Count.EqualTo(first.Tensors.Count));
    }

    [Test]
    public void FilesLargerThanTwoGigabytesUseLongOffsets()
    {
        using var folder = new TempFolder();
        string path = folder.File("large.safetensors");
        const long PadElements = 805_306_368; // 3 GiB of F32, so the tail tensor starts past 2^31 bytes
        const long PadBytes = PadElements * 4;
        SafeTensorsWriter.WriteRaw(path,
            $$$"""{"pad": {"dtype": "F32", "shape": [{{{PadElements}}}], "data_offsets": [0, {{{PadBytes}}}]}, "tail": {"dtype": "F32", "shape": [2], "data_offsets": [{{{PadBytes}}}, {{{PadBytes + 8}}}]}}""",
            []);

        // Grow it sparsely: the 3 GiB of padding takes no disk space.
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.SetLength(stream.Length + PadBytes + 8);
            stream.Seek(-8, SeekOrigin.End);
            stream.Write(BitConverter.GetBytes(1.5f));
            stream.Write(BitConverter.GetBytes(-2.5f));
        }

        using var file = SafeTensorsFile.Open(path);
        Assert.That(file["tail"].DataOffset, Is.GreaterThan((long)int.MaxValue));
        Assert.That(file["tail"].ToFloat32(), Is.EqualTo(new[] { 1.5f, -2.5f }));
        Assert.That(file["pad"].ByteLength, Is.EqualTo(PadElements * 4));
        Assert.Throws<CheckpointException>(() => _ = file["pad"].Bytes.Length);
    }

    internal static void AssertNames(CheckpointException? error, string file, string? tensor)
    {
        Assert.That(error, Is.Not.Null);
        Assert.That(error!.File, Is.EqualTo(file));
        Assert.That(error.Tensor, Is.EqualTo(tensor));
        Assert.That(error.Message, Does.Contain(file));
        if (tensor is not null)
        {
            Assert.That(error.Message, Does.Contain($"'{tensor}'"));
        }
    }
}
