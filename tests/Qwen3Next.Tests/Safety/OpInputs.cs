using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Tests.Safety;

/// <summary>
/// Small, valid inputs for every op family on any backend (weights loaded through <see cref="IKernelBackend.LoadWeight"/>,
/// so the same code serves the reference, ILGPU and the ptx launchers). Tensors made here are disposed with it.
/// </summary>
internal sealed class OpInputs : IDisposable
{
    public const int Hidden = 64;
    public const int Rows = 3;
    public const int Vocab = 20;
    public const int Out = 32;

    /// <summary>Head dims of 32, as in the golden small cases. (At 16 the emulator once reported out-of-bounds shared
    /// accesses in the chunk kernels; that was the emulator not wrapping 32-bit addresses, since fixed and tested.)</summary>
    public static readonly GatedDeltaNetShape Gdn = new(Hidden, 2, 4, 32, 32, 4, 1e-6f);
    public static readonly GatedAttentionShape Attention = new(Hidden, 4, 2, 64, 16, 1e7f, 1e-6f);
    public static readonly MoeShape Moe = new(Hidden, 16, 4, 16, 32, true);

    private readonly List<IDisposable> owned = [];
    private readonly Random random;

    public OpInputs(IKernelBackend backend, int seed = 1)
    {
        Backend = backend;
        random = new Random(seed);
        Table = Own(Matrix("embed_tokens.weight", Vocab, Hidden));
        Weight = Own(Matrix("proj.weight", Out, Hidden));
        Norm = Own(Vector("norm.weight", Uniform(Hidden, 0.5f, 1.5f)));
        GdnWeights = Own(new GatedDeltaNetWeights(
            backend.LoadWeight(TensorView.FromBf16("conv1d.weight", [Gdn.ConvDim, 1, Gdn.ConvKernel], Bits(Gdn.ConvDim * Gdn.ConvKernel, 0.5f))),
            Vector("A_log", Uniform(Gdn.ValueHeads, -1, 1)), Vector("dt_bias", Uniform(Gdn.ValueHeads, -1, 1)),
            Vector("linear_attn.norm.weight", Uniform(Gdn.ValueDim, 0.5f, 1.5f))));
        QNorm = Own(Vector("q_norm.weight", Uniform(Attention.HeadDim, -0.5f, 0.5f)));
        KNorm = Own(Vector("k_norm.weight", Uniform(Attention.HeadDim, -0.5f, 0.5f)));
        int h = Moe.Hidden, i = Moe.ExpertIntermediate, s = Moe.SharedIntermediate;
        var experts = Enumerable.Range(0, Moe.Experts).Select(e => new ExpertTensors(
            TensorView.FromBf16($"experts.{e}.gate_proj.weight", [i, h], Bits(i * h, 0.125f)),
            TensorView.FromBf16($"experts.{e}.up_proj.weight", [i, h], Bits(i * h, 0.125f)),
            TensorView.FromBf16($"experts.{e}.down_proj.weight", [h, i], Bits(h * i, 0.25f)))).ToList();
        MoeWeights = Own(new MoeWeights(Matrix("gate.weight", Moe.Experts, h), backend.LoadExperts(Moe, experts),
            Matrix("shared_expert.gate_proj.weight", s, h), Matrix("shared_expert.up_proj.weight", s, h),
            Matrix("shared_expert.down_proj.weight", h, s), Matrix("shared_expert_gate.weight", 1, h)));
    }

    public IKernelBackend Backend { get; }

    /// <summary><c>[Vocab, Hidden]</c> bf16.</summary>
    public DeviceWeight Table { get; }

    /// <summary><c>[Out, Hidden]</c> bf16.</summary>
    public DeviceWeight Weight { get; }

    /// <summary><c>[Hidden]</c> float32.</summary>
    public DeviceWeight Norm { get; }

    public GatedDeltaNetWeights GdnWeights { get; }

    public DeviceWeight QNorm { get; }

    public DeviceWeight KNorm { get; }

    public MoeWeights MoeWeights { get; }

    public T Own<T>(T item)
        where T : IDisposable
    {
        owned.Add(item);
        return item;
    }

    public float[] Uniform(long length, float low, float high)
        => Enumerable.Range(0, checked((int)length)).Select(_ => low + ((high - low) * random.NextSingle())).ToArray();

    public DeviceTensor Upload(float[] values) => Own(Backend.Upload(values));

    /// <summary>Uniform(-1, 1) values on the backend, with <paramref name="poison"/> at index <paramref name="at"/> when given.</summary>
    public DeviceTensor Input(long length, float? poison = null, long at = 0)
    {
        var values = Uniform(length, -1, 1);
        if (poison is { } p)
        {
            values[at] = p;
        }

        return Upload(values);
    }

    public DeviceTensor Zeros(long length) => Own(Backend.Allocate(length));

    public float[] Download(DeviceTensor tensor)
    {
        var values = new float[tensor.Length];
        Backend.Download(tensor, values);
        return values;
    }

    public LinearAttentionState GdnState() => Own(new LinearAttentionState(Zeros((long)Gdn.ConvDim * Gdn.ConvKernel),
        Zeros((long)Gdn.ValueHeads * Gdn.KeyDim * Gdn.ValueDim)));

    public KvCache Cache(int capacity)
    {
        long size = (long)Attention.KeyValueHeads * capacity * Attention.HeadDim;
        return Own(new KvCache(Zeros(size), Zeros(size), capacity));
    }

    public DeviceWeight Matrix(string name, int rows, int cols)
        => Backend.LoadWeight(TensorView.FromBf16(name, [rows, cols], Bits(rows * cols, 1f / MathF.Sqrt(cols))));

    public DeviceWeight Vector(string name, float[] values) => Backend.LoadWeight(TensorView.FromFloat32(name, [values.Length], values));

    public ushort[] Bits(int length, float scale) => Uniform(length, -scale, scale).Select(Bf16.FromFloat).ToArray();

    public void Dispose()
    {
        for (int i = owned.Count - 1; i >= 0; i--)
        {
            owned[i].Dispose();
        }
    }
}
