using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Qwen3Next.Checkpoint;

/// <summary>
/// Parses and validates a safetensors header. Layout: an 8-byte little-endian header length
/// N, N bytes of UTF-8 JSON, then the data region; offsets are relative to the data region.
/// Like the reference Rust crate, the tensors must tile the data region exactly: sorted by
/// offset, each starts where the previous one ends, the first at 0 and the last at the end
/// of the file. Holes and trailing bytes are rejected, since a writer never produces them.
/// </summary>
internal static unsafe class SafeTensorsHeader
{
    public const int LengthPrefixBytes = 8;

    /// <summary>Real headers are well under 1 MB (≈100 KB for a 40k-tensor shard); anything beyond this is corrupt.</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    public const string MetadataKey = "__metadata__";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static (Dictionary<string, TensorView> Tensors, Dictionary<string, string> Metadata) Parse(
        SafeTensorsFile file, byte* basePointer, long fileLength)
    {
        string path = file.Path;
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(basePointer, LengthPrefixBytes));
        if (headerLength > MaxHeaderBytes)
        {
            throw new SafeTensorsFormatException(
                $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit (corrupt length prefix?)", path);
        }

        if ((long)headerLength > fileLength - LengthPrefixBytes)
        {
            throw new SafeTensorsFormatException(
                $"header length {headerLength} runs past the end of the {fileLength}-byte file", path);
        }

        var headerBytes = new ReadOnlySpan<byte>(basePointer + LengthPrefixBytes, (int)headerLength);
        using var document = ParseJson(headerBytes, path);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new SafeTensorsFormatException(
                $"header must be a JSON object, found {document.RootElement.ValueKind}", path);
        }

        long dataStart = LengthPrefixBytes + (long)headerLength;
        long dataLength = fileLength - dataStart;
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<Entry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            if (!names.Add(property.Name))
            {
                throw new SafeTensorsFormatException("name appears twice in the header", path, property.Name);
            }

            if (property.Name == MetadataKey)
            {
                ReadMetadata(property.Value, path, metadata);
                continue;
            }

            entries.Add(ReadEntry(property.Name, property.Value, path, dataLength));
        }

        CheckTiling(entries, path, dataLength);
        var tensors = new Dictionary<string, TensorView>(entries.Count, StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            tensors.Add(entry.Name, new TensorView(
                file, entry.Name, entry.DType, entry.Shape, entry.ElementCount, dataStart + entry.Begin, entry.End - entry.Begin));
        }

        return (tensors, metadata);
    }

    private static JsonDocument ParseJson(ReadOnlySpan<byte> headerBytes, string path)
    {
        try
        {
            StrictUtf8.GetCharCount(headerBytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new SafeTensorsFormatException($"header is not valid UTF-8: {e.Message}", path, inner: e);
        }

        try
        {
            return JsonDocument.Parse(headerBytes.ToArray());
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException($"header is not valid JSON: {e.Message}", path, inner: e);
        }
    }

    private static void ReadMetadata(JsonElement value, string path, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SafeTensorsFormatException(
                $"must be an object of strings, found {value.ValueKind}", path, MetadataKey);
        }

        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw new SafeTensorsFormatException(
                    $"value of key '{item.Name}' must be a string, found {item.Value.ValueKind}", path, MetadataKey);
            }

            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
            {
                throw new SafeTensorsFormatException($"key '{item.Name}' appears twice", path, MetadataKey);
            }
        }
    }

    private static Entry ReadEntry(string name, JsonElement value, string path, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SafeTensorsFormatException($"entry must be an object, found {value.ValueKind}", path, name);
        }

        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw new SafeTensorsFormatException("entry has no string 'dtype'", path, name);
        }

        var dtype = DTypeInfo.Parse(dtypeElement.GetString()!, path, name);
        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw new SafeTensorsFormatException("entry has no array 'shape'", path, name);
        }

        var shape = new long[shapeElement.GetArrayLength()];
        long elementCount = 1;
        int index = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            shape[index] = ReadNonNegativeInteger(dim, $"shape[{index}]", path, name);
            elementCount = CheckedMultiply(elementCount, shape[index], path, name);
            index++;
        }

        if (!value.TryGetProperty("data_offsets", out var offsetsElement)
            || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2)
        {
            throw new SafeTensorsFormatException("entry has no 'data_offsets' array of two integers", path, name);
        }

        long begin = ReadNonNegativeInteger(offsetsElement[0], "data_offsets[0]", path, name);
        long end = ReadNonNegativeInteger(offsetsElement[1], "data_offsets[1]", path, name);
        if (begin > end)
        {
            throw new SafeTensorsFormatException($"data_offsets begin {begin} is after end {end}", path, name);
        }

        if (end > dataLength)
        {
            throw new SafeTensorsFormatException(
                $"data_offsets [{begin}, {end}] lie outside the {dataLength}-byte data region", path, name);
        }

        long expectedBytes = CheckedMultiply(elementCount, DTypeInfo.SizeOf(dtype), path, name);
        if (end - begin != expectedBytes)
        {
            throw new SafeTensorsFormatException(
                $"data_offsets span {end - begin} bytes but {dtype} [{string.Join(", ", shape)}] needs {expectedBytes}", path, name);
        }

        return new Entry(name, dtype, shape, elementCount, begin, end);
    }

    private static long ReadNonNegativeInteger(JsonElement element, string what, string path, string name)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out long value) || value < 0)
        {
            throw new SafeTensorsFormatException(
                $"{what} is {element.GetRawText()}: must be a non-negative integer", path, name);
        }

        return value;
    }

    private static long CheckedMultiply(long a, long b, string path, string name)
    {
        try
        {
            return checked(a * b);
        }
        catch (OverflowException)
        {
            throw new SafeTensorsFormatException("shape is too large: element or byte count overflows 64 bits", path, name);
        }
    }

    private static void CheckTiling(List<Entry> entries, string path, long dataLength)
    {
        entries.Sort((x, y) => x.Begin != y.Begin ? x.Begin.CompareTo(y.Begin) : x.End.CompareTo(y.End));
        long expectedBegin = 0;
        string? previous = null;
        foreach (var entry in entries)
        {
            if (entry.Begin < expectedBegin)
            {
                throw new SafeTensorsFormatException(
                    $"data [{entry.Begin}, {entry.End}] overlaps tensor '{previous}' which ends at {expectedBegin}", path, entry.Name);
            }

            if (entry.Begin > expectedBegin)
            {
                throw new SafeTensorsFormatException(
                    $"data starts at {entry.Begin} but the previous tensor ends at {expectedBegin}: holes are not allowed", path, entry.Name);
            }

            expectedBegin = entry.End;
            previous = entry.Name;
        }

        if (expectedBegin != dataLength)
        {
            throw new SafeTensorsFormatException(
                $"tensors cover {expectedBegin} of the {dataLength} data bytes: trailing bytes are not allowed", path, previous);
        }
    }

    private sealed record Entry(string Name, DType DType, long[] Shape, long ElementCount, long Begin, long End);
}
