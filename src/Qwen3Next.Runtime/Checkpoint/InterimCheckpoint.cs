// INTERIM stand-in for the checkpoint layer being written on the `checkpoint` branch; deleted at merge.
using System.Text.Json;

namespace Qwen3Next.Checkpoint;

public enum DType { BF16, F16, F32, I64, I32 }

public enum LayerKind { LinearAttention, FullAttention }

public sealed unsafe class TensorView
{
    private readonly byte[] data;

    internal TensorView(string name, DType dtype, long[] shape, string file, byte[] data)
    {
        Name = name; DType = dtype; Shape = shape; File = file; this.data = data;
        ElementCount = shape.Aggregate(1L, (a, b) => a * b);
    }

    public string Name { get; }
    public DType DType { get; }
    public long[] Shape { get; }
    public long ElementCount { get; }
    public string File { get; }
    public ReadOnlySpan<byte> Bytes => data;
    public ReadOnlySpan<ushort> AsBF16() => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(data);
    public int Dim(int i) => (int)Shape[i];
    public float[] ToFloat32()
    {
        var r = new float[ElementCount];
        CopyToFloat32(r);
        return r;
    }
    public void CopyToFloat32(Span<float> d)
    {
        if (DType == DType.F32) { System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data).CopyTo(d); return; }
        var b = AsBF16(); for (int i = 0; i < b.Length; i++) d[i] = BitConverter.Int32BitsToSingle(b[i] << 16);
    }
    public long[] ToInt64() => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(data).ToArray();
}

public sealed class SafeTensorsFile : IDisposable
{
    public string Path { get; private init; } = "";
    public IReadOnlyDictionary<string, TensorView> Tensors { get; private init; } = new Dictionary<string, TensorView>();
    public IReadOnlyDictionary<string, string> Metadata { get; private init; } = new Dictionary<string, string>();
    public TensorView this[string name] => Tensors[name];
    public static SafeTensorsFile Open(string path)
    {
        var all = System.IO.File.ReadAllBytes(path);
        long n = BitConverter.ToInt64(all, 0);
        using var doc = JsonDocument.Parse(all.AsMemory(8, (int)n));
        var t = new Dictionary<string, TensorView>(); var m = new Dictionary<string, string>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__") { foreach (var q in p.Value.EnumerateObject()) m[q.Name] = q.Value.GetString()!; continue; }
            var dt = Enum.Parse<DType>(p.Value.GetProperty("dtype").GetString()!);
            var shape = p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var off = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            t[p.Name] = new TensorView(p.Name, dt, shape, path, all.AsSpan((int)(8 + n + off[0]), (int)(off[1] - off[0])).ToArray());
        }
        return new SafeTensorsFile { Path = path, Tensors = t, Metadata = m };
    }
    public void Dispose() { }
}

public sealed class CheckpointReader : IDisposable
{
    public IReadOnlyDictionary<string, TensorView> Tensors { get; private init; } = new Dictionary<string, TensorView>();
    public TensorView this[string name] => Tensors[name];
    public static CheckpointReader Open(string dir)
    {
        var t = new Dictionary<string, TensorView>();
        foreach (var f in Directory.GetFiles(dir, "model*.safetensors"))
            foreach (var kv in SafeTensorsFile.Open(f).Tensors) t[kv.Key] = kv.Value;
        return new CheckpointReader { Tensors = t };
    }
    public void Dispose() { }
}

public sealed record ModelConfig
{
    public int VocabSize { get; init; }
    public int HiddenSize { get; init; }
    public int NumHiddenLayers { get; init; }
    public int NumAttentionHeads { get; init; }
    public int NumKeyValueHeads { get; init; }
    public int HeadDim { get; init; }
    public double PartialRotaryFactor { get; init; }
    public double RopeTheta { get; init; }
    public int RotaryDim => (int)(HeadDim * PartialRotaryFactor);
    public int LinearNumKeyHeads { get; init; }
    public int LinearNumValueHeads { get; init; }
    public int LinearKeyHeadDim { get; init; }
    public int LinearValueHeadDim { get; init; }
    public int LinearConvKernelDim { get; init; }
    public int NumExperts { get; init; }
    public int NumExpertsPerTok { get; init; }
    public int MoeIntermediateSize { get; init; }
    public int SharedExpertIntermediateSize { get; init; }
    public bool NormTopkProb { get; init; }
    public double RmsNormEps { get; init; }
    public int? EosTokenId { get; init; }
    public IReadOnlyList<LayerKind> LayerTypes { get; init; } = [];
    public static ModelConfig Load(string path)
    {
        using var d = JsonDocument.Parse(System.IO.File.ReadAllText(path)); var r = d.RootElement;
        int I(string k) => r.GetProperty(k).GetInt32();
        return new ModelConfig
        {
            VocabSize = I("vocab_size"), HiddenSize = I("hidden_size"), NumHiddenLayers = I("num_hidden_layers"),
            NumAttentionHeads = I("num_attention_heads"), NumKeyValueHeads = I("num_key_value_heads"), HeadDim = I("head_dim"),
            PartialRotaryFactor = r.GetProperty("partial_rotary_factor").GetDouble(), RopeTheta = r.GetProperty("rope_theta").GetDouble(),
            LinearNumKeyHeads = I("linear_num_key_heads"), LinearNumValueHeads = I("linear_num_value_heads"),
            LinearKeyHeadDim = I("linear_key_head_dim"), LinearValueHeadDim = I("linear_value_head_dim"), LinearConvKernelDim = I("linear_conv_kernel_dim"),
            NumExperts = I("num_experts"), NumExpertsPerTok = I("num_experts_per_tok"), MoeIntermediateSize = I("moe_intermediate_size"),
            SharedExpertIntermediateSize = I("shared_expert_intermediate_size"), NormTopkProb = r.GetProperty("norm_topk_prob").GetBoolean(),
            RmsNormEps = r.GetProperty("rms_norm_eps").GetDouble(), EosTokenId = I("eos_token_id"),
            LayerTypes = r.GetProperty("layer_types").EnumerateArray().Select(e => e.GetString() == "full_attention" ? LayerKind.FullAttention : LayerKind.LinearAttention).ToArray(),
        };
    }
}

public sealed class QwenCheckpoint : IDisposable
{
    public required ModelConfig Config { get; init; }
    public required CheckpointReader Reader { get; init; }
    public TensorView this[string name] => Reader[name];
    public static QwenCheckpoint Open(string folder) => new() { Config = ModelConfig.Load(System.IO.Path.Combine(folder, "config.json")), Reader = CheckpointReader.Open(folder) };
    public void Dispose() => Reader.Dispose();
}

public class CheckpointException(string message) : Exception(message)
{
    public string? File { get; init; }
    public string? Tensor { get; init; }
}
