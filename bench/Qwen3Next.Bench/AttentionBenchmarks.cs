using BenchmarkDotNet.Attributes;
using ILGPU.Runtime;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Device;
using Qwen3Next.Ops.Attention;

namespace Qwen3Next.Bench;

/// <summary>
/// The fused ILGPU gated attention core (q/k norm + RoPE + cache append, then causal flash attention for
/// T &gt; 1 or split-KV decode + combine for T = 1) on a cache already holding <see cref="Cached"/> tokens.
/// <see cref="Roofline"/> gives the bytes a call must move at least (inputs, the cache append, one read of the
/// visible cache per kv head, output; no scratch) and its FLOPs, so a GPU run can state its fraction of the roofline.
/// Shapes: "small" is the golden small case (Hq 4, Hkv 2, D 64, rotary 16), cheap on the CPU accelerator;
/// "real" is Qwen3-Next (Hq 16, Hkv 2, D 256, rotary 64).
/// </summary>
[MemoryDiagnoser]
public class AttentionBenchmarks
{
    private IlgpuBackend backend = null!;
    private GatedAttentionShape shape;
    private KvCache cache = null!;
    private DeviceTensor qg = null!, k = null!, v = null!, y = null!;
    private DeviceWeight qNorm = null!, kNorm = null!;

    [Params("small", "real")]
    public string Shape { get; set; } = "small";

    /// <summary>1 is a decode step; more is a (chunked) prefill.</summary>
    [Params(1, 128)]
    public int Tokens { get; set; }

    [Params(0, 2048)]
    public int Cached { get; set; }

    /// <summary>Bytes moved and FLOPs of one call: scores and P·V cost 4·D FLOPs per visible (query, key) pair and head.</summary>
    public static (double Bytes, double Flops) Roofline(GatedAttentionShape s, int tokens, int cached)
    {
        double inputs = 4.0 * tokens * (s.QueryGateWidth + (2.0 * s.KeyValueWidth));
        double append = 4.0 * 2 * tokens * s.KeyValueWidth;
        double cacheRead = 4.0 * 2 * s.KeyValueWidth * (double)(cached + tokens);
        double output = 4.0 * tokens * s.OutputWidth;
        double pairs = ((double)tokens * cached) + (tokens * (tokens + 1.0) / 2);
        double attention = 4.0 * s.HeadDim * s.QueryHeads * pairs;
        double normRope = 6.0 * tokens * (s.QueryHeads + s.KeyValueHeads) * s.HeadDim;
        return (inputs + append + cacheRead + output, attention + normRope);
    }

    [GlobalSetup]
    public void Setup()
    {
        backend = IlgpuBackend.Create(DeviceKind.Auto);
        shape = Shape == "real" ? new GatedAttentionShape(2048, 16, 2, 256, 64, 1e7f, 1e-6f) : new GatedAttentionShape(128, 4, 2, 64, 16, 1e7f, 1e-6f);
        var random = new Random(11);
        float[] Uniform(long n, float bound) => Enumerable.Range(0, (int)n).Select(_ => bound * ((2 * random.NextSingle()) - 1)).ToArray();
        IlgpuWeight Vector(string name, float[] values)
        {
            var buffer = backend.Accelerator.Allocate1D<float>(values.Length);
            buffer.View.CopyFromCPU(backend.Stream, values);
            return new IlgpuWeight(name, buffer);
        }

        int capacity = Cached + Tokens;
        long cacheLength = (long)shape.KeyValueHeads * capacity * shape.HeadDim;
        cache = new KvCache(backend.Upload(Uniform(cacheLength, 2)), backend.Upload(Uniform(cacheLength, 1)), capacity);
        qg = backend.Upload(Uniform((long)Tokens * shape.QueryGateWidth, 1));
        k = backend.Upload(Uniform((long)Tokens * shape.KeyValueWidth, 1));
        v = backend.Upload(Uniform((long)Tokens * shape.KeyValueWidth, 1));
        y = backend.Allocate((long)Tokens * shape.OutputWidth);
        qNorm = Vector("q_norm.weight", Uniform(shape.HeadDim, 0.2f));
        kNorm = Vector("k_norm.weight", Uniform(shape.HeadDim, 0.2f));

        var (bytes, flops) = Roofline(shape, Tokens, Cached);
        var (dims, _) = AttentionTiling.Plan(shape, SequenceBatch.Single(Cached, Tokens), capacity);
        Console.WriteLine($"// {backend.Device.Description}");
        Console.WriteLine($"// Attention {Shape} T={Tokens} cached={Cached}: {bytes:N0} bytes, {flops:N0} FLOPs; " +
            $"{dims.TokensPerTile} tokens × {shape.Group} heads per tile, KV tile {dims.KvTile}, {dims.Splits} split(s)");
    }

    [Benchmark]
    public void Mixer()
    {
        cache.Length = Cached;
        backend.Attention.Mixer(shape, Tokens, qg, k, v, qNorm, kNorm, cache, y);
        backend.Stream.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { qg, k, v, y })
        {
            t.Dispose();
        }

        qNorm.Dispose();
        kNorm.Dispose();
        cache.Dispose();
        backend.Dispose();
    }
}
