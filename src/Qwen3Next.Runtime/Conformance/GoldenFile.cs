using System.Text.Json;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Conformance;

/// <summary>A golden safetensors file: its op, its dims and its tensors (see tests/data/golden/README.md).</summary>
public sealed class GoldenFile : IDisposable
{
    private readonly SafeTensorsFile file;

    private GoldenFile(SafeTensorsFile file, string op, string caseName, JsonElement dims)
    {
        this.file = file;
        Op = op;
        Case = caseName;
        Dims = dims;
    }

    public string Path => file.Path;

    public string Op { get; }

    public string Case { get; }

    public JsonElement Dims { get; }

    public IReadOnlyDictionary<string, string> Metadata => file.Metadata;

    public static GoldenFile Open(string path)
    {
        var file = SafeTensorsFile.Open(path);
        try
        {
            string op = Meta(file, "op");
            string caseName = file.Metadata.TryGetValue("case", out var c) ? c : System.IO.Path.GetFileNameWithoutExtension(path);
            var dims = file.Metadata.TryGetValue("dims", out var d) ? JsonDocument.Parse(d).RootElement.Clone() : default;
            return new GoldenFile(file, op, caseName, dims);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public bool Has(string name) => file.Tensors.ContainsKey(name);

    public TensorView this[string name] => file[name];

    public float[] F32(string name) => file[name].ToFloat32();

    public long[] I64(string name) => file[name].ToInt64();

    public int Dim(string key) => Dims.TryGetProperty(key, out var v) ? v.GetInt32()
        : throw new CheckpointException($"dims has no '{key}'.", Path);

    public bool Flag(string key, bool fallback) => Dims.ValueKind == JsonValueKind.Object && Dims.TryGetProperty(key, out var v) ? v.GetBoolean() : fallback;

    public double Number(string key) => Dims.GetProperty(key).GetDouble();

    public void Dispose() => file.Dispose();

    private static string Meta(SafeTensorsFile file, string key) => file.Metadata.TryGetValue(key, out var v) ? v
        : throw new CheckpointException($"metadata has no '{key}'; not a golden case.", file.Path);
}
