using BenchmarkDotNet.Attributes;
using ILGPU.Runtime;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Device;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.GatedDelta;

namespace Qwen3Next.Bench;

/// <summary>
/// The ILGPU Gated DeltaNet ops: the mixer core (chunked prefill for T &gt; 1, the fused decode kernel for T = 1)
/// and the bare rule in both modes. <see cref="Roofline"/> gives the bytes a call must move at least (inputs,
/// weights, state in and out, output; no scratch) and its FLOPs, so a GPU run can state its fraction of the roofline.
/// Shapes: "small" is the golden small case (Hk 2, Hv 4, Dk = Dv = 32), cheap on the CPU accelerator;
/// "real" is Qwen3-Next (Hk 16, Hv 32, Dk = Dv = 128).
/// </summary>
[MemoryDiagnoser]
public class GatedDeltaBenchmarks
{
    private IlgpuBackend backend = null!;
    private GatedDeltaNetShape shape;
    private GatedDeltaNetWeights weights = null!;
    private LinearAttentionState state = null!;
    private DeviceTensor qkvz = null!, ba = null!, y = null!, q = null!, k = null!, v = null!, g = null!, beta = null!, o = null!;

    [Params("small", "real")]
    public string Shape { get; set; } = "small";

    [Params(1, 100)]
    public int Tokens { get; set; }

    /// <summary>Bytes moved and FLOPs of one mixer-core call (<paramref name="tokens"/> = 1 is the fused decode).</summary>
    public static (double Bytes, double Flops) Roofline(GatedDeltaNetShape s, int tokens)
    {
        double stateBytes = 2.0 * s.ValueHeads * s.KeyDim * s.ValueDim * 4;
        double convBytes = (s.ConvDim * s.ConvKernel * 2.0) + (2.0 * s.ConvDim * s.ConvKernel * 4);
        double ioBytes = 4.0 * tokens * (s.QkvzWidth + s.BaWidth + s.ValueWidth);
        double convFlops = 2.0 * tokens * s.ConvDim * s.ConvKernel;
        return (stateBytes + convBytes + ioBytes, convFlops + RuleFlops(s.Rule(tokens), tokens > 1));
    }

    /// <summary>FLOPs of the rule: recurrent ≈ 6·Dk·Dv per token and head; chunked per chunk and head:
    /// KKᵀ and QKᵀ (lower halves) 2C²Dk, the triangular solve C³/3, U and W C²(Dk + Dv), W·S, Q·S and the state
    /// update 6C·Dk·Dv, Aqk·V' C²Dv.</summary>
    public static double RuleFlops(GatedDeltaShape s, bool chunked)
    {
        if (!chunked)
        {
            return 6.0 * s.Tokens * s.ValueHeads * s.KeyDim * s.ValueDim;
        }

        const double C = GatedDeltaChunkKernels.ChunkSize;
        double chunks = Math.Ceiling(s.Tokens / C);
        double perChunk = (2 * C * C * s.KeyDim) + (C * C * C / 3) + (C * C * (s.KeyDim + s.ValueDim)) + (6 * C * s.KeyDim * s.ValueDim) + (C * C * s.ValueDim);
        return chunks * s.ValueHeads * perChunk;
    }

    [GlobalSetup]
    public void Setup()
    {
        backend = IlgpuBackend.Create(DeviceKind.Auto);
        shape = Shape == "real" ? new GatedDeltaNetShape(2048, 16, 32, 128, 128, 4, 1e-6f) : new GatedDeltaNetShape(128, 2, 4, 32, 32, 4, 1e-6f);
        var random = new Random(7);
        float[] Uniform(long n, float lo, float hi) => Enumerable.Range(0, (int)n).Select(_ => lo + ((hi - lo) * random.NextSingle())).ToArray();

        var convBits = Uniform((long)shape.ConvDim * shape.ConvKernel, -0.5f, 0.5f).Select(Bf16.FromFloat).ToArray();
        var convBuffer = backend.Accelerator.Allocate1D<ushort>(convBits.Length);
        convBuffer.View.CopyFromCPU(backend.Stream, convBits);
        IlgpuWeight Vector(string name, float[] values)
        {
            var buffer = backend.Accelerator.Allocate1D<float>(values.Length);
            buffer.View.CopyFromCPU(backend.Stream, values);
            return new IlgpuWeight(name, buffer);
        }

        weights = new GatedDeltaNetWeights(new IlgpuWeight("conv1d.weight", shape.ConvDim, shape.ConvKernel, convBuffer),
            Vector("A_log", Uniform(shape.ValueHeads, -1, 0.5f)), Vector("dt_bias", Uniform(shape.ValueHeads, -1, 1)), Vector("norm.weight", Uniform(shape.ValueDim, 0.5f, 1.5f)));
        state = new LinearAttentionState(backend.Upload(Uniform((long)shape.ConvDim * shape.ConvKernel, -1, 1)),
            backend.Upload(Uniform((long)shape.ValueHeads * shape.KeyDim * shape.ValueDim, -0.1f, 0.1f)));
        qkvz = backend.Upload(Uniform((long)Tokens * shape.QkvzWidth, -1, 1));
        ba = backend.Upload(Uniform((long)Tokens * shape.BaWidth, -2, 2));
        y = backend.Allocate((long)Tokens * shape.ValueWidth);
        long keyLength = (long)Tokens * shape.KeyHeads * shape.KeyDim;
        q = backend.Upload(Uniform(keyLength, -1, 1));
        k = backend.Upload(Uniform(keyLength, -1, 1));
        v = backend.Upload(Uniform((long)Tokens * shape.ValueWidth, -1, 1));
        g = backend.Upload(Uniform((long)Tokens * shape.ValueHeads, -0.5f, 0));
        beta = backend.Upload(Uniform((long)Tokens * shape.ValueHeads, 0, 1));
        o = backend.Allocate((long)Tokens * shape.ValueWidth);

        var (bytes, flops) = Roofline(shape, Tokens);
        var rule = shape.Rule(Tokens);
        double ruleBytes = 4.0 * ((2.0 * keyLength) + (2.0 * Tokens * shape.ValueWidth) + (2.0 * Tokens * shape.ValueHeads) + (2.0 * shape.ValueHeads * shape.KeyDim * shape.ValueDim));
        Console.WriteLine($"// {backend.Device.Description}");
        Console.WriteLine($"// GatedDelta {Shape} T={Tokens}: mixer {bytes:N0} bytes, {flops:N0} FLOPs; rule {ruleBytes:N0} bytes, " +
            $"{RuleFlops(rule, true):N0} FLOPs chunked, {RuleFlops(rule, false):N0} FLOPs recurrent");
    }

    [Benchmark]
    public void Mixer()
    {
        backend.GatedDelta.Mixer(shape, Tokens, qkvz, ba, weights, state, y);
        backend.Stream.Synchronize();
    }

    [Benchmark]
    public void RuleChunked()
    {
        backend.GatedDelta.Rule(shape.Rule(Tokens), q, k, v, g, beta, state.Recurrent, o, true, 1f / MathF.Sqrt(shape.KeyDim), GatedDeltaMode.Chunked);
        backend.Stream.Synchronize();
    }

    [Benchmark]
    public void RuleRecurrent()
    {
        backend.GatedDelta.Rule(shape.Rule(Tokens), q, k, v, g, beta, state.Recurrent, o, true, 1f / MathF.Sqrt(shape.KeyDim), GatedDeltaMode.Recurrent);
        backend.Stream.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { qkvz, ba, y, q, k, v, g, beta, o })
        {
            t.Dispose();
        }

        state.Dispose();
        weights.Dispose();
        backend.Dispose();
    }
}
