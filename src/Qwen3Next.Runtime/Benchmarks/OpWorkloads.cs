using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;

namespace Qwen3Next.Benchmarks;

/// <summary>Sizes to benchmark at: the real Qwen3-Next-80B-A3B, or a small model the CPU accelerator can run quickly.</summary>
public enum BenchmarkScale
{
    Small,
    Real,
}

/// <summary>The op workloads of the model at decode (1 token) and prefill (many tokens), built from random weights.</summary>
public static class OpWorkloads
{
    public static readonly string[] Names =
    [
        "matmul-decode", "matmul-prefill", "rmsnorm", "gdn-decode", "gdn-prefill", "attention-decode", "attention-prefill", "moe-decode", "moe-prefill",
    ];

    public static ModelShapes Shapes(BenchmarkScale scale) => scale == BenchmarkScale.Real
        ? new ModelShapes(new(2048, 16, 32, 128, 128, 4, 1e-6f), new(2048, 16, 2, 256, 64, 1e7f, 1e-6f), new(2048, 512, 10, 512, 512, true), 1e-6f)
        : new ModelShapes(new(128, 2, 4, 32, 32, 4, 1e-6f), new(128, 4, 2, 64, 16, 1e7f, 1e-6f), new(128, 32, 10, 32, 64, true), 1e-6f);

    /// <summary>Prefill tokens and decode context length per scale.</summary>
    public static (int PrefillTokens, int Context) Lengths(BenchmarkScale scale) => scale == BenchmarkScale.Real ? (512, 4096) : (64, 128);

    /// <summary>Workloads of the ptx backend alone (they call its launchers below the op contracts).</summary>
    public static readonly string[] PtxNames = [ExpertGemmWorkload.Name];

    /// <summary>Builds <paramref name="name"/> at <paramref name="scale"/>; <paramref name="prefillTokens"/> overrides the
    /// scale's prefill length (e.g. 32768 for the long-prompt shapes of the tensor-core issue).</summary>
    public static OpWorkload Create(string name, IKernelBackend b, BenchmarkScale scale, int seed = 1, int? prefillTokens = null)
    {
        var s = Shapes(scale);
        var (prefill, context) = Lengths(scale);
        if (prefillTokens is { } tokens)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 1, nameof(prefillTokens));
            prefill = tokens;
        }

        if (name == ExpertGemmWorkload.Name)
        {
            return ExpertGemmWorkload.Create(b as Backends.Ptx.PtxBackend
                ?? throw new ArgumentException($"The {name} workload runs on the ptx backends only (it drives their grouped expert GEMMs directly)."), s.Moe, prefill, seed);
        }

        var random = new Random(seed);
        var owned = new List<IDisposable>();
        T Own<T>(T d) where T : IDisposable
        {
            owned.Add(d);
            return d;
        }

        DeviceTensor Activations(long n) => Own(b.Upload(RandomFloats(random, n, 1f)));
        DeviceWeight Matrix(int rows, int cols) => Own(b.LoadWeight(RandomWeights.Matrix($"w{owned.Count}", rows, cols, random)));
        DeviceWeight Vector(int n, float center) => Own(b.LoadWeight(RandomWeights.Vector($"v{owned.Count}", n, center, random)));
        int h = s.Linear.Hidden;

        switch (name)
        {
            case "matmul-decode":
            case "matmul-prefill":
                {
                    int rows = name == "matmul-decode" ? 1 : prefill, outF = s.Linear.QkvzWidth;
                    var (x, w, y) = (Activations((long)rows * h), Matrix(outF, h), Own(b.Allocate((long)rows * outF)));
                    return new OpWorkload(name, $"[{rows}x{h}]·[{outF}x{h}]ᵀ", (2L * outF * h) + (4L * rows * (h + outF)), 2L * rows * outF * h,
                        () => b.Basic.MatMul(x, w, y, rows), owned);
                }

            case "rmsnorm":
                {
                    var (x, w) = (Activations((long)prefill * h), Vector(h, 0f));
                    return new OpWorkload(name, $"[{prefill}x{h}]", 8L * prefill * h, 4L * prefill * h, () => b.Basic.RmsNorm(x, w, x, prefill, h, s.Eps, true), owned);
                }

            case "gdn-decode":
            case "gdn-prefill":
                {
                    var g = s.Linear;
                    int t = name == "gdn-decode" ? 1 : prefill;
                    var weights = Own(new GatedDeltaNetWeights(Matrix(g.ConvDim, g.ConvKernel), Vector(g.ValueHeads, 0f), Vector(g.ValueHeads, 0f), Vector(g.ValueDim, 1f)));
                    var (qkvz, ba, y) = (Activations((long)t * g.QkvzWidth), Activations((long)t * g.BaWidth), Own(b.Allocate((long)t * g.ValueWidth)));
                    var state = Own(new LinearAttentionState(b.Allocate((long)g.ConvDim * g.ConvKernel), b.Allocate((long)g.ValueHeads * g.KeyDim * g.ValueDim)));
                    long stateBytes = 4L * g.ValueHeads * g.KeyDim * g.ValueDim;
                    long bytes = (2 * stateBytes) + (4L * t * (g.QkvzWidth + g.BaWidth + g.ValueWidth));
                    long flops = (long)t * g.ValueHeads * g.KeyDim * g.ValueDim * (t == 1 ? 6 : 8);
                    return new OpWorkload(name, $"T={t} Hk={g.KeyHeads} Hv={g.ValueHeads} D={g.KeyDim}", bytes, flops,
                        () => b.GatedDelta.Mixer(g, t, qkvz, ba, weights, state, y), owned);
                }

            case "attention-decode":
            case "attention-prefill":
                {
                    var a = s.Attention;
                    bool decode = name == "attention-decode";
                    int t = decode ? 1 : prefill, cached = decode ? context - 1 : 0;
                    var (qn, kn) = (Vector(a.HeadDim, 0f), Vector(a.HeadDim, 0f));
                    var (qg, k, v, y) = (Activations((long)t * a.QueryGateWidth), Activations((long)t * a.KeyValueWidth), Activations((long)t * a.KeyValueWidth), Own(b.Allocate((long)t * a.OutputWidth)));
                    long size = (long)a.KeyValueHeads * context * a.HeadDim;
                    var element = b.KvCacheElement(a);
                    var cache = Own(new KvCache(KvElements.Upload(b, RandomFloats(random, size, 1f), element), KvElements.Upload(b, RandomFloats(random, size, 1f), element),
                        context, element));
                    long keys = cached + t;
                    long bytes = (2L * element.Bytes() * a.KeyValueHeads * keys * a.HeadDim) + (4L * t * (a.QueryGateWidth + a.OutputWidth));
                    long flops = 4L * a.QueryHeads * a.HeadDim * (decode ? keys : (long)t * (t + 1) / 2);
                    return new OpWorkload(name, $"T={t} context={keys} Hq={a.QueryHeads} Hkv={a.KeyValueHeads} D={a.HeadDim}", bytes, flops, () =>
                    {
                        cache.Length = cached;
                        b.Attention.Mixer(a, t, qg, k, v, qn, kn, cache, y);
                    }, owned);
                }

            case "moe-decode":
            case "moe-prefill":
                {
                    var m = s.Moe;
                    int t = name == "moe-decode" ? 1 : prefill;
                    var experts = Enumerable.Range(0, m.Experts).Select(e => new ExpertTensors(
                        RandomWeights.Matrix($"e{e}.g", m.ExpertIntermediate, m.Hidden, random), RandomWeights.Matrix($"e{e}.u", m.ExpertIntermediate, m.Hidden, random),
                        RandomWeights.Matrix($"e{e}.d", m.Hidden, m.ExpertIntermediate, random))).ToArray();
                    var weights = Own(new MoeWeights(Matrix(m.Experts, m.Hidden), b.LoadExperts(m, experts), Matrix(m.SharedIntermediate, m.Hidden),
                        Matrix(m.SharedIntermediate, m.Hidden), Matrix(m.Hidden, m.SharedIntermediate), Matrix(1, m.Hidden)));
                    var (x, y) = (Activations((long)t * m.Hidden), Own(b.Allocate((long)t * m.Hidden)));
                    long expertBytes = 6L * m.ExpertIntermediate * m.Hidden;
                    long touched = Math.Min(m.Experts, (long)t * m.TopK);
                    long bytes = (touched * expertBytes) + (6L * m.SharedIntermediate * m.Hidden) + (2L * m.Experts * m.Hidden) + (8L * t * m.Hidden);
                    long flops = (2L * t * m.Experts * m.Hidden) + (6L * t * (m.TopK * m.ExpertIntermediate + m.SharedIntermediate) * m.Hidden);
                    return new OpWorkload(name, $"T={t} E={m.Experts} k={m.TopK} H={m.Hidden} I={m.ExpertIntermediate}", bytes, flops,
                        () => b.Moe.Block(m, t, x, weights, y), owned);
                }

            default:
                throw new ArgumentException($"Unknown workload '{name}'. Known: {string.Join(", ", Names)}.");
        }
    }

    private static float[] RandomFloats(Random random, long n, float scale)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++)
        {
            a[i] = scale * (float)((random.NextDouble() * 2) - 1);
        }

        return a;
    }
}
