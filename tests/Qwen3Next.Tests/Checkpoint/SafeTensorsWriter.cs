using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Tests.Checkpoint;

/// <summary>A tensor to write: raw little-endian bytes plus the header fields.</summary>
internal sealed record WrittenTensor(string Name, string DType, long[] Shape, byte[] Data)
{
    public static WrittenTensor From(TensorView view) =>
        new(view.Name, DTypeInfo.SafeTensorsName(view.DType), view.Shape, view.Bytes.ToArray());

    public static WrittenTensor F32(string name, long[] shape, params float[] values)
    {
        var data = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), values[i]);
        }

        return new(name, "F32", shape, data);
    }
}

/// <summary>Writes safetensors files for tests: well-formed ones, and raw ones with a hand-made header.</summary>
internal static class SafeTensorsWriter
{
    public static void Write(string path, IEnumerable<WrittenTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata)
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            foreach (var tensor in list)
            {
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", tensor.DType);
                json.WriteStartArray("shape");
                foreach (long dim in tensor.Shape)
                {
                    json.WriteNumberValue(dim);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + tensor.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += tensor.Data.Length;
            }

            json.WriteEndObject();
        }

        WriteRaw(path, buffer.ToArray(), list.SelectMany(t => t.Data).ToArray());
    }

    public static void WriteRaw(string path, string headerJson, byte[] data) =>
        WriteRaw(path, Encoding.UTF8.GetBytes(headerJson), data);

    /// <summary>Pads the header with spaces to a multiple of 8, as real writers do.</summary>
    public static void WriteRaw(string path, byte[] header, byte[] data, ulong? headerLengthOverride = null)
    {
        int padded = (header.Length + 7) / 8 * 8;
        var bytes = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLengthOverride ?? (ulong)padded);
        header.CopyTo(bytes, 8);
        bytes.AsSpan(8 + header.Length, padded - header.Length).Fill((byte)' ');
        data.CopyTo(bytes, 8 + padded);
        File.WriteAllBytes(path, bytes);
    }
}
