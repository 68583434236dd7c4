using BenchmarkDotNet.Attributes;
using ILGPU;
using ILGPU.Runtime;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Device;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.Moe;

namespace Qwen3Next.Bench;

/// <summary>
/// One sparse MoE block on the ILGPU backend (CUDA when present, else the CPU accelerator): decode (T=1) and a prefill
/// chunk, at a small CPU-accelerator shape and at the real Qwen3-Next shape (H 2048, 512 experts, top-10, I = S = 512).
/// Random bf16 weights; one bits array is reused for every expert so the 3 GiB real layer uploads without a 3 GiB host array.
/// </summary>
public class MoeBenchmarks
{
    private IlgpuBackend backend = null!;
    private MoeWeights weights = null!;
    private DeviceTensor x = null!;
    private DeviceTensor y = null!;
    private MoeShape shape;

    /// <summary><c>small</c>: H 64, E 64, k 10, I 32, S 64; <c>real</c>: the published model.</summary>
    [Params("small", "real")]
    public string Shape { get; set; } = "small";

    [Params(1, 256)]
    public int Tokens { get; set; }

    /// <summary>Bytes moved per call (see <see cref="Roofline"/>).</summary>
    public long Bytes { get; private set; }

    /// <summary>FLOPs per call (see <see cref="Roofline"/>).</summary>
    public long Flops { get; private set; }

    /// <summary>
    /// Minimum traffic and work of one call: bf16 weights of the router, the shared expert and every expert that receives
    /// at least one token (at most min(E, T·k), assuming distinct experts — an upper bound on the experts touched),
    /// read once; fp32 x and y once. FLOPs: 2 per multiply-add of the router, the k routed and the shared SwiGLU.
    /// </summary>
    public static (long Bytes, long Flops) Roofline(MoeShape s, int tokens)
    {
        long h = s.Hidden, i = s.ExpertIntermediate, sh = s.SharedIntermediate;
        long touched = Math.Min(s.Experts, (long)tokens * s.TopK);
        long weightBytes = 2 * ((s.Experts * h) + (touched * 3 * i * h) + (3 * sh * h) + h);
        long activationBytes = 4L * tokens * h * 2;
        long flops = 2L * tokens * ((s.Experts * h) + (s.TopK * 3 * i * h) + (3 * sh * h) + h);
        return (weightBytes + activationBytes, flops);
    }

    [GlobalSetup]
    public void Setup()
    {
        shape = Shape == "real" ? new MoeShape(2048, 512, 10, 512, 512, true) : new MoeShape(64, 64, 10, 32, 64, true);
        backend = IlgpuBackend.Create(DeviceKind.Auto);
        var random = new Random(1);
        int h = shape.Hidden, i = shape.ExpertIntermediate, s = shape.SharedIntermediate;
        var (gate, up, down) = (Bits(random, i * h, h), Bits(random, i * h, h), Bits(random, h * i, i));
        weights = new MoeWeights(Weight("gate.weight", Bits(random, shape.Experts * h, h), shape.Experts, h),
            IlgpuExpertWeights.FromBits(backend, shape, _ => (gate, up, down)),
            Weight("shared_expert.gate_proj.weight", Bits(random, s * h, h), s, h), Weight("shared_expert.up_proj.weight", Bits(random, s * h, h), s, h),
            Weight("shared_expert.down_proj.weight", Bits(random, h * s, s), h, s), Weight("shared_expert_gate.weight", Bits(random, h, h), 1, h));
        x = backend.Upload(Enumerable.Range(0, Tokens * h).Select(_ => (random.NextSingle() * 2) - 1).ToArray());
        y = backend.Allocate((long)Tokens * h);
        (Bytes, Flops) = Roofline(shape, Tokens);
        Console.WriteLine($"// MoE {Shape} T={Tokens} on {backend.Device.Description}: {Bytes} bytes, {Flops} FLOPs per call");
        Block();
    }

    [Benchmark]
    public void Block()
    {
        backend.Moe.Block(shape, Tokens, x, weights, y);
        backend.Stream.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        x.Dispose();
        y.Dispose();
        weights.Dispose();
        backend.Dispose();
    }

    private static ushort[] Bits(Random random, int count, int fanIn)
    {
        float scale = 1f / MathF.Sqrt(fanIn);
        var bits = new ushort[count];
        for (int n = 0; n < count; n++)
        {
            bits[n] = Bf16.FromFloat(((random.NextSingle() * 2) - 1) * scale);
        }

        return bits;
    }

    private IlgpuWeight Weight(string name, ushort[] bits, int rows, int cols)
    {
        var buffer = backend.Accelerator.Allocate1D<ushort>(bits.Length);
        buffer.View.CopyFromCPU(backend.Stream, bits);
        return new IlgpuWeight(name, rows, cols, buffer);
    }
}
