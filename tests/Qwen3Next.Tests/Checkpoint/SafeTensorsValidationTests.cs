using System.Text;
using NUnit.Framework;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Tests.Checkpoint;

/// <summary>One crafted file per kind of malformed input; each must fail with a typed error naming file and tensor.</summary>
public sealed class SafeTensorsValidationTests
{
    private TempFolder folder = null!;
    private string path = null!;

    [SetUp]
    public void CreateFolder()
    {
        folder = new TempFolder();
        path = Path.GetFullPath(folder.File("bad.safetensors"));
    }

    [TearDown]
    public void DeleteFolder() => folder.Dispose();

    [Test]
    public void FileShorterThanTheLengthPrefix()
    {
        File.WriteAllBytes(path, [1, 0, 0, 0]);
        Rejects<SafeTensorsFormatException>(null, "shorter than the 8-byte");
    }

    [Test]
    public void EmptyFile()
    {
        File.WriteAllBytes(path, []);
        Rejects<SafeTensorsFormatException>(null, "shorter than the 8-byte");
    }

    [Test]
    public void HeaderLengthBeyondTheFile()
    {
        SafeTensorsWriter.WriteRaw(path, Encoding.UTF8.GetBytes("{}"), [], headerLengthOverride: 1000);
        Rejects<SafeTensorsFormatException>(null, "runs past the end");
    }

    [TestCase(200UL * 1024 * 1024)]
    [TestCase(ulong.MaxValue)]
    public void AbsurdHeaderLength(ulong length)
    {
        SafeTensorsWriter.WriteRaw(path, Encoding.UTF8.GetBytes("{}"), [], headerLengthOverride: length);
        Rejects<SafeTensorsFormatException>(null, "exceeds");
    }

    [Test]
    public void HeaderNotUtf8()
    {
        SafeTensorsWriter.WriteRaw(path, [(byte)'{', (byte)'"', 0xff, 0xfe, (byte)'"', (byte)':', (byte)'1', (byte)'}'], []);
        Rejects<SafeTensorsFormatException>(null, "UTF-8");
    }

    [Test]
    public void HeaderNotJson()
    {
        SafeTensorsWriter.WriteRaw(path, "{\"x\": {\"dtype\": ", []);
        Rejects<SafeTensorsFormatException>(null, "not valid JSON");
    }

    [Test]
    public void HeaderNotAnObject()
    {
        SafeTensorsWriter.WriteRaw(path, "[1, 2]", []);
        Rejects<SafeTensorsFormatException>(null, "must be a JSON object");
    }

    [Test]
    public void EntryNotAnObject()
    {
        SafeTensorsWriter.WriteRaw(path, """{"x": [0, 4]}""", []);
        Rejects<SafeTensorsFormatException>("x", "entry must be an object");
    }

    [TestCase("""{"x": {"shape": [1], "data_offsets": [0, 4]}}""", "dtype")]
    [TestCase("""{"x": {"dtype": 7, "shape": [1], "data_offsets": [0, 4]}}""", "dtype")]
    [TestCase("""{"x": {"dtype": "F32", "data_offsets": [0, 4]}}""", "shape")]
    [TestCase("""{"x": {"dtype": "F32", "shape": [1]}}""", "data_offsets")]
    [TestCase("""{"x": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}""", "data_offsets")]
    public void EntryMissingAField(string header, string field)
    {
        SafeTensorsWriter.WriteRaw(path, header, new byte[4]);
        Rejects<SafeTensorsFormatException>("x", field);
    }

    [TestCase("-1")]
    [TestCase("2.5")]
    [TestCase("\"2\"")]
    [TestCase("1e30")]
    public void ShapeDimensionNotANonNegativeInteger(string dim)
    {
        SafeTensorsWriter.WriteRaw(path, $$$"""{"x": {"dtype": "F32", "shape": [{{{dim}}}], "data_offsets": [0, 4]}}""", new byte[4]);
        Rejects<SafeTensorsFormatException>("x", "non-negative integer");
    }

    [TestCase("-4")]
    [TestCase("0.5")]
    public void OffsetNotANonNegativeInteger(string begin)
    {
        SafeTensorsWriter.WriteRaw(path, $$$"""{"x": {"dtype": "F32", "shape": [1], "data_offsets": [{{{begin}}}, 4]}}""", new byte[4]);
        Rejects<SafeTensorsFormatException>("x", "non-negative integer");
    }

    [Test]
    public void OffsetsOutsideTheDataRegion()
    {
        SafeTensorsWriter.WriteRaw(path, """{"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}""", new byte[8]);
        Rejects<SafeTensorsFormatException>("x", "outside the 8-byte data region");
    }

    [Test]
    public void OffsetsFarOutsideTheDataRegion()
    {
        SafeTensorsWriter.WriteRaw(path, """{"x": {"dtype": "F32", "shape": [1], "data_offsets": [9223372036854775803, 9223372036854775807]}}""", new byte[8]);
        Rejects<SafeTensorsFormatException>("x", "outside");
    }

    [Test]
    public void BeginAfterEnd()
    {
        SafeTensorsWriter.WriteRaw(path, """{"x": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}""", new byte[8]);
        Rejects<SafeTensorsFormatException>("x", "after end");
    }

    [Test]
    public void OverlappingTensors()
    {
        SafeTensorsWriter.WriteRaw(path,
            """{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}""",
            new byte[12]);
        Rejects<SafeTensorsFormatException>("b", "overlaps tensor 'a'");
    }

    [Test]
    public void HoleBetweenTensors()
    {
        SafeTensorsWriter.WriteRaw(path,
            """{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}}""",
            new byte[20]);
        Rejects<SafeTensorsFormatException>("b", "holes are not allowed");
    }

    [Test]
    public void UnorderedButContiguousTensorsAreAccepted()
    {
        SafeTensorsWriter.WriteRaw(path,
            """{"b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}""",
            new byte[8]);
        using var file = SafeTensorsFile.Open(path);
        Assert.That(file["b"].DataOffset - file["a"].DataOffset, Is.EqualTo(4));
    }

    [Test]
    public void TrailingBytesAfterTheLastTensor()
    {
        SafeTensorsWriter.WriteRaw(path, """{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}""", new byte[12]);
        Rejects<SafeTensorsFormatException>("a", "trailing bytes");
    }

    [Test]
    public void UnknownDType()
    {
        SafeTensorsWriter.WriteRaw(path, """{"x": {"dtype": "Q4_K", "shape": [1], "data_offsets": [0, 4]}}""", new byte[4]);
        Rejects<TensorDTypeException>("x", "Q4_K");
    }

    [Test]
    public void ByteSizeDisagreesWithDTypeAndShape()
    {
        SafeTensorsWriter.WriteRaw(path, """{"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}""", new byte[8]);
        Rejects<SafeTensorsFormatException>("x", "needs 12");
    }

    [Test]
    public void ElementCountOverflows()
    {
        SafeTensorsWriter.WriteRaw(path, """{"x": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}}""", new byte[8]);
        Rejects<SafeTensorsFormatException>("x", "overflows");
    }

    [Test]
    public void ByteCountOverflows()
    {
        SafeTensorsWriter.WriteRaw(path, """{"x": {"dtype": "I64", "shape": [2305843009213693952], "data_offsets": [0, 8]}}""", new byte[8]);
        Rejects<SafeTensorsFormatException>("x", "overflows");
    }

    [Test]
    public void MetadataValuesMustBeStrings()
    {
        SafeTensorsWriter.WriteRaw(path, """{"__metadata__": {"format": "pt", "seed": 3}}""", []);
        Rejects<SafeTensorsFormatException>("__metadata__", "'seed' must be a string");
    }

    [Test]
    public void DuplicateNameInOneHeader()
    {
        SafeTensorsWriter.WriteRaw(path,
            """{"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}""",
            new byte[8]);
        Rejects<SafeTensorsFormatException>("x", "twice");
    }

    [Test]
    public void HeaderOnlyFileHasNoTensors()
    {
        SafeTensorsWriter.WriteRaw(path, """{"__metadata__": {"format": "pt"}}""", []);
        using var file = SafeTensorsFile.Open(path);
        Assert.That(file.Tensors, Is.Empty);
        Assert.That(file.Metadata["format"], Is.EqualTo("pt"));
    }

    private void Rejects<TException>(string? tensor, string detail)
        where TException : CheckpointException
    {
        var error = Assert.Throws<TException>(() => SafeTensorsFile.Open(path).Dispose());
        SafeTensorsFileTests.AssertNames(error, path, tensor);
        Assert.That(error!.Message, Does.Contain(detail));
    }
}
