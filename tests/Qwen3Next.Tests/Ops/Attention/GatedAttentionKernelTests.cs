using System.Diagnostics;
using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Checkpoint;
using Qwen3Next.Ops.Attention;

namespace Qwen3Next.Tests.Ops.Attention;

/// <summary>
/// The fused attention kernels — ILGPU's on the CPU accelerator, and the CUDA C and ILGPU PTX on the emulator with the
/// sanitizer on — against <see cref="GatedAttentionReference"/> (float64 dots and softmax) on random inputs. The CUDA C
/// prefill kernel takes D ∈ {64, 128, 256}, so the D = 32 cases run at D = 64 on ptx-emu. Tolerances: outputs are convex combinations of values in [-1, 1] times a sigmoid, so |y| ≤ 1;
/// the kernels accumulate q·k over D ≤ 256 terms and the softmax in float32, whose order-dependent rounding is
/// ~D·2⁻²⁴·|q||k| ≈ 1e-6 on the scores, hence atol 1e-5 on y (the golden attention tolerance). Cached keys are
/// normalised (RMS 1, |k| ≲ 4): only the float32 sum of squares differs from the reference, atol 1e-5. Values are
/// copied, so they must be bit-exact.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.KernelBackends))]
public sealed class GatedAttentionKernelTests(string backendName)
{
    private const double OutputTolerance = 1e-5;
    private const double KeyTolerance = 1e-5;

    /// <summary>Shared for the run (and disposed) by <see cref="TestBackends"/>.</summary>
    private IKernelBackend Backend => TestBackends.Get(backendName);

    /// <summary>The head dim a case runs at: the CUDA C prefill kernel takes D ∈ {64, 128, 256}, so its D = 32 cases (ILGPU
    /// tilings: 32-key tiles at D = 64, 64-key tiles at D ≤ 32) run at D = 64 on ptx-emu, with the same tokens and heads.</summary>
    private int HeadDim(int headDim) => Backend is PtxBackend && headDim is not (64 or 128 or 256) ? 64 : headDim;

    private static GatedAttentionShape Shape(int hq, int hkv, int d, int rotary) => new(1, hq, hkv, d, rotary, 1e7f, 1e-6f);

    [TestCase(1, 2, 2, 32)]
    [TestCase(63, 2, 2, 32)]
    [TestCase(64, 2, 2, 64)]
    [TestCase(65, 2, 2, 32)]
    [TestCase(130, 2, 2, 32)]
    [TestCase(1, 4, 2, 32)]
    [TestCase(63, 4, 2, 64)]
    [TestCase(64, 4, 2, 32)]
    [TestCase(65, 4, 2, 64)]
    [TestCase(130, 4, 2, 32)]
    [TestCase(65, 8, 1, 32)]
    [TestCase(130, 16, 2, 32)]
    public void PrefillMatchesReference(int tokens, int hq, int hkv, int d)
    {
        d = HeadDim(d);
        var shape = Shape(hq, hkv, d, d / 4);
        using var run = new Run(shape, tokens + 3, seed: (tokens * 31) + hq);
        run.Step(Backend, tokens);
        run.AssertMatches(Backend);
    }

    /// <summary>A prefill continued on a non-empty cache (chunked prefill): the causal mask must offset by the cached length.</summary>
    [TestCase(40, 30, 4, 2)]
    [TestCase(64, 65, 2, 2)]
    public void ChunkedPrefillMatchesReference(int first, int second, int hq, int hkv)
    {
        using var run = new Run(Shape(hq, hkv, HeadDim(32), 8), first + second, seed: first + second);
        run.Step(Backend, first);
        run.Step(Backend, second);
        run.AssertMatches(Backend);
    }

    [Test]
    public void PrefillThenDecodeEqualsOneLongerPrefill()
    {
        var shape = Shape(4, 2, 64, 16);
        const int Prompt = 70, Steps = 6;
        using var stepwise = new Run(shape, Prompt + Steps, seed: 5);
        using var oneShot = new Run(shape, Prompt + Steps, seed: 5);
        stepwise.Step(Backend, Prompt);
        for (int i = 0; i < Steps; i++)
        {
            stepwise.Step(Backend, 1);
        }

        oneShot.Step(Backend, Prompt + Steps);
        var (yStep, keysStep, valuesStep) = stepwise.Device(Backend);
        var (yOne, keysOne, valuesOne) = oneShot.Device(Backend);
        Assert.Multiple(() =>
        {
            AssertClose(yStep, yOne, OutputTolerance, "y");
            AssertClose(keysStep, keysOne, 0, "key cache");
            AssertClose(valuesStep, valuesOne, 0, "value cache");
        });
        stepwise.AssertMatches(Backend);
    }

    /// <summary>Decode steps after a long prompt, so the split-KV kernel runs several splits and the combine kernel merges them
    /// (on the emulators the prompt is cut to 300 tokens: still 5 ILGPU splits and 2 CUDA C splits of 256, in a third of the time).</summary>
    [TestCase(300, 2, 2)]
    [TestCase(500, 4, 2)]
    [TestCase(450, 8, 1)]
    public void DecodeOverSeveralSplitsMatchesReference(int prompt, int hq, int hkv)
    {
        var shape = Shape(hq, hkv, HeadDim(32), 8);
        if (TestBackends.EmulatedBackends.Contains(backendName))
        {
            prompt = Math.Min(prompt, 300);
        }

        int splits = Backend is PtxBackend ? PtxGatedAttentionOps.ContextSplits(prompt + 1) : AttentionTiling.Splits(shape, prompt + 1);
        Assert.That(splits, Is.GreaterThanOrEqualTo(2), "the case must span several splits");
        using var run = new Run(shape, prompt + 3, seed: prompt);
        run.Step(Backend, prompt);
        for (int i = 0; i < 3; i++)
        {
            run.Step(Backend, 1);
        }

        run.AssertMatches(Backend);
    }

    /// <summary>The real model's heads (Hq16/Hkv2/D256, rotary 64): KV tiles of 8 rows, 2 tokens × 8 heads per flash tile.</summary>
    [Test]
    public void RealHeadShapeMatchesReference()
    {
        using var run = new Run(Shape(16, 2, 256, 64), 12, seed: 7);
        var watch = Stopwatch.StartNew();
        run.Step(Backend, 9);
        for (int i = 0; i < 3; i++)
        {
            run.Step(Backend, 1);
        }

        Backend.Synchronize();
        TestContext.Out.WriteLine($"real-head prefill 9 + 3 decode steps: {watch.ElapsedMilliseconds} ms on {backendName}");
        run.AssertMatches(Backend);
    }

    [Test]
    public void OverflowingTheCacheThrowsBeforeWriting()
    {
        using var run = new Run(Shape(2, 2, 64, 16), 4, seed: 1);
        run.Step(Backend, 3);
        Assert.Throws<InvalidOperationException>(() => run.Step(Backend, 2));
        Assert.That(run.Cache!.Length, Is.EqualTo(3));
        run.AssertMatches(Backend);
    }

    [Test]
    public void GroupLargerThanOneTileIsRejected()
    {
        using var run = new Run(Shape(64, 1, 256, 64), 2, seed: 1);
        var ex = Assert.Throws<ArgumentException>(() => run.Step(Backend, 1));
        Assert.That(ex!.Message, Does.Contain(Backend is IlgpuBackend ? "GQA group 64" : "G·D = 16384"));
    }

    private static void AssertClose(float[] actual, float[] expected, double atol, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < actual.Length; i++)
        {
            double diff = Math.Abs((double)actual[i] - expected[i]);
            if (!(diff <= worst))
            {
                worst = diff;
                at = i;
            }
        }

        Assert.That(worst, Is.LessThanOrEqualTo(atol), $"{what}: max |diff| {worst:E3} at {at}");
    }

    /// <summary>
    /// One attention layer fed the same random token stream on the device and in the reference, in the same steps.
    /// qg [T, Hq, 2D], k/v [T, Hkv·D] uniform in [-1, 1]; q_norm/k_norm weights in [-0.2, 0.2] (zero-centred).
    /// </summary>
    private sealed class Run : IDisposable
    {
        /// <summary>Inputs exist for a few tokens past the cache so a test can try to overflow it.</summary>
        private const int SpareTokens = 8;

        private readonly GatedAttentionShape shape;
        private readonly int capacity;
        private readonly float[] qg, k, v, qNorm, kNorm;
        private readonly float[] keys, values, y;
        private int done;
        private DeviceTensor? deviceY;
        private DeviceWeight? qNormWeight, kNormWeight;

        public Run(GatedAttentionShape shape, int capacity, int seed)
        {
            this.shape = shape;
            this.capacity = capacity;
            var random = new Random(seed);
            int inputs = capacity + SpareTokens;
            qg = Uniform(random, (long)inputs * shape.QueryGateWidth, 1f);
            k = Uniform(random, (long)inputs * shape.KeyValueWidth, 1f);
            v = Uniform(random, (long)inputs * shape.KeyValueWidth, 1f);
            qNorm = Uniform(random, shape.HeadDim, 0.2f);
            kNorm = Uniform(random, shape.HeadDim, 0.2f);
            keys = new float[(long)shape.KeyValueHeads * capacity * shape.HeadDim];
            values = new float[keys.Length];
            y = new float[(long)inputs * shape.OutputWidth];
        }

        public KvCache? Cache { get; private set; }

        public void Dispose()
        {
            Cache?.Dispose();
            deviceY?.Dispose();
            qNormWeight?.Dispose();
            kNormWeight?.Dispose();
        }

        public void Step(IKernelBackend backend, int tokens)
        {
            Cache ??= new KvCache(backend.Allocate(keys.Length), backend.Allocate(values.Length), capacity);
            deviceY ??= backend.Allocate((long)capacity * shape.OutputWidth);
            qNormWeight ??= Weight(backend, "q_norm.weight", qNorm);
            kNormWeight ??= Weight(backend, "k_norm.weight", kNorm);
            using var qgIn = backend.Upload(Slice(qg, done, tokens, shape.QueryGateWidth));
            using var kIn = backend.Upload(Slice(k, done, tokens, shape.KeyValueWidth));
            using var vIn = backend.Upload(Slice(v, done, tokens, shape.KeyValueWidth));
            using var yOut = backend.Allocate((long)tokens * shape.OutputWidth);
            backend.Attention.Mixer(shape, tokens, qgIn, kIn, vIn, qNormWeight, kNormWeight, Cache, yOut);
            backend.Copy(yOut, 0, deviceY, (long)done * shape.OutputWidth, (long)tokens * shape.OutputWidth);

            GatedAttentionReference.Mixer(shape, tokens, Slice(qg, done, tokens, shape.QueryGateWidth), Slice(k, done, tokens, shape.KeyValueWidth),
                Slice(v, done, tokens, shape.KeyValueWidth), qNorm, kNorm, keys, values, capacity, done,
                y.AsSpan(done * shape.OutputWidth, tokens * shape.OutputWidth));
            done += tokens;
        }

        public (float[] Y, float[] Keys, float[] Values) Device(IKernelBackend backend)
        {
            var yDevice = new float[(long)done * shape.OutputWidth];
            var keysDevice = new float[keys.Length];
            var valuesDevice = new float[values.Length];
            backend.Download(deviceY!, yDevice);
            backend.Download(Cache!.Keys, keysDevice);
            backend.Download(Cache.Values, valuesDevice);
            return (yDevice, keysDevice, valuesDevice);
        }

        public void AssertMatches(IKernelBackend backend)
        {
            var (yDevice, keysDevice, valuesDevice) = Device(backend);
            Assert.Multiple(() =>
            {
                Assert.That(Cache!.Length, Is.EqualTo(done), "cache length");
                AssertClose(yDevice, y.AsSpan(0, yDevice.Length).ToArray(), OutputTolerance, "y");
                AssertClose(keysDevice, keys, KeyTolerance, "key cache");
                AssertClose(valuesDevice, values, 0, "value cache");
            });
        }

        private static float[] Slice(float[] data, int first, int count, int width) => data.AsSpan(first * width, count * width).ToArray();

        private static float[] Uniform(Random random, long length, float bound)
        {
            var r = new float[length];
            for (long i = 0; i < length; i++)
            {
                r[i] = (float)(((random.NextDouble() * 2) - 1) * bound);
            }

            return r;
        }

        private static DeviceWeight Weight(IKernelBackend backend, string name, float[] data)
            => backend.LoadWeight(TensorView.FromFloat32(name, [data.Length], data));
    }
}
