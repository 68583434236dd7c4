using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Backends.Reference;

namespace Qwen3Next.Tests.Safety;

/// <summary>
/// Every public op checks its arguments on the host, the same way on every backend (<see cref="OpContracts"/>):
/// an undersized buffer, a wrong shape or a disposed object is a typed exception naming the argument, raised before
/// anything is launched or written.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.HostSideBackends))]
public sealed class OpContractTests(string backendName)
{
    private const int H = OpInputs.Hidden, T = OpInputs.Rows;

    private OpInputs ops = null!;

    [OneTimeSetUp]
    public void Create() => ops = new OpInputs(TestBackends.Get(backendName));

    [OneTimeTearDown]
    public void Dispose() => ops?.Dispose();

    /// <summary>One call per op family whose named argument is one element (or one token) too small.</summary>
    private static readonly Dictionary<string, (string Argument, Action<OpInputs> Call)> UndersizedCalls = new()
    {
        ["embed y"] = ("y", o => o.Backend.Basic.Embed([1, 2, 3], o.Table, o.Zeros((T * H) - 1))),
        ["rmsnorm x"] = ("x", o => o.Backend.Basic.RmsNorm(o.Input((T * H) - 1), o.Norm, o.Zeros(T * H), T, H, 1e-6f, true)),
        ["matmul y"] = ("y", o => o.Backend.Basic.MatMul(o.Input(T * H), o.Weight, o.Zeros((T * OpInputs.Out) - 1), T)),
        ["add addend"] = ("addend", o => o.Backend.Basic.Add(o.Zeros(100), o.Input(99), 100)),
        ["argmax result"] = ("result", o => o.Backend.Basic.ArgmaxRows(o.Input(T * H), T, H, new int[T - 1])),
        ["delta rule state"] = ("state", DeltaRuleWithShortState),
        ["gdn mixer qkvz"] = ("qkvz", o => o.Backend.GatedDelta.Mixer(OpInputs.Gdn, T, o.Input((T * OpInputs.Gdn.QkvzWidth) - 1),
            o.Input(T * OpInputs.Gdn.BaWidth), o.GdnWeights, o.GdnState(), o.Zeros(T * OpInputs.Gdn.ValueWidth))),
        ["attention cache"] = ("cache.Keys", AttentionWithShortCache),
        ["moe x"] = ("x", o => o.Backend.Moe.Block(OpInputs.Moe, T, o.Input((T * H) - 1), o.MoeWeights, o.Zeros(T * H))),
    };

    /// <summary>Shapes that do not agree with the weights or with each other.</summary>
    private static readonly Dictionary<string, (string Argument, Action<OpInputs> Call)> WrongShapeCalls = new()
    {
        ["rmsnorm dim != weight"] = ("weight", o => o.Backend.Basic.RmsNorm(o.Input(T * H), o.Norm, o.Zeros(T * H), 2 * T, H / 2, 1e-6f, true)),
        ["matmul with a vector weight"] = ("weight", o => o.Backend.Basic.MatMul(o.Input(T * H), o.Norm, o.Zeros(T * H), T)),
        ["rmsnorm with a matrix weight"] = ("weight", o => o.Backend.Basic.RmsNorm(o.Input(T * H), o.Weight, o.Zeros(T * H), T, H, 1e-6f, true)),
        ["embed token outside the vocabulary"] = ("tokens", o => o.Backend.Basic.Embed([1, OpInputs.Vocab], o.Table, o.Zeros(2 * H))),
        ["negative rows"] = ("rows", o => o.Backend.Basic.MatMul(o.Input(T * H), o.Weight, o.Zeros(T * OpInputs.Out), -1)),
        ["rmsnorm eps NaN"] = ("eps", o => o.Backend.Basic.RmsNorm(o.Input(T * H), o.Norm, o.Zeros(T * H), T, H, float.NaN, true)),
        ["gdn value heads not a multiple"] = ("shape.ValueHeads", o => o.Backend.GatedDelta.Mixer(OpInputs.Gdn with { ValueHeads = 3 }, 1,
            o.Input(1000), o.Input(1000), o.GdnWeights, o.GdnState(), o.Zeros(1000))),
        ["gdn conv weight of another shape"] = ("weights.Conv", GdnWithAnotherConvKernel),
        ["attention odd rotary width"] = ("shape.RotaryDim", AttentionWithOddRotaryWidth),
        ["moe top-k above the experts"] = ("shape.TopK", o =>
            o.Backend.Moe.Block(OpInputs.Moe with { TopK = 17 }, T, o.Input(T * H), o.MoeWeights, o.Zeros(T * H))),
        ["moe router of another expert count"] = ("weights.Router", o =>
            o.Backend.Moe.Block(OpInputs.Moe with { Experts = 8, TopK = 4 }, T, o.Input(T * H), o.MoeWeights, o.Zeros(T * H))),
    };

    private static void DeltaRuleWithShortState(OpInputs o)
    {
        var s = OpInputs.Gdn.Rule(T);
        long qk = (long)T * s.KeyHeads * s.KeyDim, vo = (long)T * s.ValueHeads * s.ValueDim;
        o.Backend.GatedDelta.Rule(s, o.Input(qk), o.Input(qk), o.Input(vo), o.Input(T * s.ValueHeads), o.Input(T * s.ValueHeads),
            o.Zeros(((long)s.ValueHeads * s.KeyDim * s.ValueDim) - 1), o.Zeros(vo), true, 0.25f, GatedDeltaMode.Chunked);
    }

    private static void AttentionWithShortCache(OpInputs o)
    {
        var a = OpInputs.Attention;
        long full = (long)a.KeyValueHeads * 8 * a.HeadDim;
        var cache = o.Own(new KvCache(o.Zeros(full - 1), o.Zeros(full), 8));
        o.Backend.Attention.Mixer(a, T, o.Input(T * a.QueryGateWidth), o.Input(T * a.KeyValueWidth), o.Input(T * a.KeyValueWidth),
            o.QNorm, o.KNorm, cache, o.Zeros(T * a.OutputWidth));
    }

    private static void GdnWithAnotherConvKernel(OpInputs o)
    {
        var s = OpInputs.Gdn with { ConvKernel = 3 };
        o.Backend.GatedDelta.Mixer(s, 1, o.Input(s.QkvzWidth), o.Input(s.BaWidth), o.GdnWeights, o.GdnState(), o.Zeros(s.ValueWidth));
    }

    private static void AttentionWithOddRotaryWidth(OpInputs o)
    {
        var a = OpInputs.Attention with { RotaryDim = 15 };
        o.Backend.Attention.Mixer(a, 1, o.Input(a.QueryGateWidth), o.Input(a.KeyValueWidth), o.Input(a.KeyValueWidth), o.QNorm, o.KNorm,
            o.Cache(4), o.Zeros(a.OutputWidth));
    }

    public static IEnumerable<string> Undersized => UndersizedCalls.Keys;

    public static IEnumerable<string> WrongShapes => WrongShapeCalls.Keys;

    [TestCaseSource(nameof(Undersized))]
    public void AnUndersizedBufferIsRefusedBeforeAnyLaunch(string call)
    {
        var (argument, act) = UndersizedCalls[call];
        long launches = Launches();
        var e = Assert.Throws(Is.InstanceOf<ArgumentException>(), () => act(ops));
        Assert.That(((ArgumentException)e!).ParamName, Is.EqualTo(argument), e.Message);
        Assert.That(Launches(), Is.EqualTo(launches), "nothing was launched");
    }

    [TestCaseSource(nameof(WrongShapes))]
    public void AWrongShapeIsRefused(string call)
    {
        var (argument, act) = WrongShapeCalls[call];
        var e = Assert.Throws(Is.InstanceOf<ArgumentException>(), () => act(ops));
        Assert.That(((ArgumentException)e!).ParamName, Is.EqualTo(argument), e.Message);
    }

    [Test]
    public void DisposedTensorsWeightsCachesAndExpertsAreRefused()
    {
        var x = ops.Backend.Upload(new float[T * H]);
        x.Dispose();
        x.Dispose(); // twice is harmless
        Assert.That(() => ops.Backend.Basic.MatMul(x, ops.Weight, ops.Zeros(T * OpInputs.Out), T), Throws.TypeOf<ObjectDisposedException>());
        Assert.That(() => ops.Backend.Download(x, new float[1]), Throws.TypeOf<ObjectDisposedException>());

        var weight = ops.Matrix("disposed.weight", OpInputs.Out, H);
        weight.Dispose();
        Assert.That(() => ops.Backend.Basic.MatMul(ops.Input(T * H), weight, ops.Zeros(T * OpInputs.Out), T),
            Throws.TypeOf<ObjectDisposedException>().With.Message.Contains("disposed.weight"));

        var a = OpInputs.Attention;
        var cache = ops.Cache(4);
        cache.Dispose();
        Assert.That(() => ops.Backend.Attention.Mixer(a, 1, ops.Input(a.QueryGateWidth), ops.Input(a.KeyValueWidth), ops.Input(a.KeyValueWidth),
            ops.QNorm, ops.KNorm, cache, ops.Zeros(a.OutputWidth)), Throws.TypeOf<ObjectDisposedException>());

        var state = ops.GdnState();
        state.Dispose();
        Assert.That(() => ops.Backend.GatedDelta.Mixer(OpInputs.Gdn, 1, ops.Input(OpInputs.Gdn.QkvzWidth), ops.Input(OpInputs.Gdn.BaWidth),
            ops.GdnWeights, state, ops.Zeros(OpInputs.Gdn.ValueWidth)), Throws.TypeOf<ObjectDisposedException>());

        using var other = new OpInputs(ops.Backend, seed: 2);
        other.MoeWeights.Experts.Dispose();
        Assert.That(() => ops.Backend.Moe.Block(OpInputs.Moe, T, ops.Input(T * H), other.MoeWeights, ops.Zeros(T * H)),
            Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void ADisposedBackendRefusesEveryCall()
    {
        var backend = CreateSecondBackend();
        var x = backend.Allocate(T * H);
        var w = backend.LoadWeight(Qwen3Next.Checkpoint.TensorView.FromBf16("w", [OpInputs.Out, H], new ushort[OpInputs.Out * H]));
        var y = backend.Allocate(T * OpInputs.Out);
        backend.Dispose();
        backend.Dispose(); // twice is harmless
        Assert.Multiple(() =>
        {
            Assert.That(() => backend.Allocate(4), Throws.TypeOf<ObjectDisposedException>());
            Assert.That(() => backend.Upload([1f]), Throws.TypeOf<ObjectDisposedException>());
            Assert.That(() => backend.Basic.MatMul(x, w, y, T), Throws.TypeOf<ObjectDisposedException>());
            Assert.That(() => backend.Synchronize(), Throws.TypeOf<ObjectDisposedException>());
        });
    }

    [Test]
    public void TensorsOfAnotherBackendAreRefused()
    {
        using var foreign = backendName == "reference" ? (DeviceTensor)new IlgpuTensorStandIn(T * H) : new HostTensor(T * H);
        var e = Assert.Throws(Is.InstanceOf<ArgumentException>(), () => ops.Backend.Basic.MatMul(foreign, ops.Weight, ops.Zeros(T * OpInputs.Out), T));
        Assert.That(e!.Message, Does.Contain("another backend"));
    }

    /// <summary>A backend of the same kind, so disposing it leaves the shared test backends alone.</summary>
    private IKernelBackend CreateSecondBackend() => ops.Backend switch
    {
        ReferenceBackend => new ReferenceBackend(),
        PtxBackend => PtxBackend.CreateSignatureCheck(),
        IlgpuBackend ilgpu => new IlgpuBackend(ilgpu.Device),
        var other => throw new InvalidOperationException(other.Name),
    };

    private long Launches() => ops.Backend is PtxBackend ptx ? ptx.DriverCounters.Launches : 0;

    /// <summary>A tensor type no backend owns.</summary>
    private sealed class IlgpuTensorStandIn(long length) : DeviceTensor(length)
    {
        protected override void Release()
        {
        }
    }
}
