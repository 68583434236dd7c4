using System.Text;
using NUnit.Framework;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;
using Qwen3Next.PtxEmulator.Sanitizer;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// wgmma.mma_async.m64nNk16 with both operands in shared memory. A (64×16) and B (N×16, i.e. Bᵀ of the K×N operand)
/// are filled on the host and laid out in a shared-memory image by this test's own transcription of the PTX ISA's
/// K-major layouts (§9.7.15.5.1): core matrices of 8 rows × 16 bytes placed by the leading/stride byte offsets when
/// unswizzled, and for the 128/64/32-byte swizzles 8-row atoms whose row r stores its 16-byte chunk c at chunk
/// position c ^ (r mod 8 / (8 / chunks per row)). The kernel copies the image to shared memory, runs one wgmma, and
/// D is compared with scale-d·C + A·B computed in double from the host matrices, element by element through the D
/// fragment layout (warp w of the warpgroup: rows 16w + lane/4 (+8), register 4j + e at column 8j + 2(lane%4) + (e&amp;1)).
/// </summary>
[TestFixture]
public sealed class WgmmaTests
{
    private const int SharedBytes = 64 * 1024;

    /// <summary>How a K-major operand is laid out: swizzle code (descriptor bits 62–63) and the byte offsets.</summary>
    public sealed record Layout(int Swizzle, int Leading, int Stride, int KOffset = 0)
    {
        public int RowBytes => Swizzle switch { 1 => 128, 2 => 64, 3 => 32, _ => 16 };

        /// <summary>Byte offset (from the operand's atom-aligned base) of element (row, k) of the k16 slice at <see cref="KOffset"/>.</summary>
        public int Offset(int row, int k)
        {
            int group = row / 8, r = row % 8;
            if (Swizzle == 0)
            {
                // Core matrix (group, k / 8): 8 rows of 16 contiguous bytes.
                return (group * Stride) + (k / 8 * Leading) + (r * 16) + (k % 8 * 2);
            }

            // Atom of 8 rows × RowBytes; logical column kk = KOffset + k lives in 16-byte chunk kk / 8 of the row; the
            // chunk is stored at position chunk ^ (r / (8 / chunksPerRow)) — the pattern repeats every 1024 bytes.
            int chunksPerRow = RowBytes / 16;
            int kk = KOffset + k, chunk = kk / 8;
            int stored = chunk ^ (r / (8 / chunksPerRow));
            return (group * Stride) + (r * RowBytes) + (stored * 16) + (kk % 8 * 2);
        }

        public ulong Descriptor(int baseAddress)
        {
            ulong start = (ulong)(baseAddress + (KOffset * 2));
            return ((start >> 4) & 0x3FFF) | ((ulong)((Leading >> 4) & 0x3FFF) << 16) | ((ulong)((Stride >> 4) & 0x3FFF) << 32) | ((ulong)Swizzle << 62);
        }
    }

    private static string Kernel(int n, string type, int scaleA, int scaleB)
    {
        int regs = n / 2;
        string list = string.Join(", ", Enumerable.Range(0, regs).Select(i => $"%f{i}"));
        var loads = new StringBuilder();
        var stores = new StringBuilder();
        for (int i = 0; i < regs; i++)
        {
            loads.AppendLine($"    ld.global.f32 %f{i}, [%rd3+{i * 4}];");
            stores.AppendLine($"    st.global.f32 [%rd5+{i * 4}], %f{i};");
        }

        return $$"""
            .visible .entry wgmma_test(.param .u64 image, .param .u32 words, .param .u64 desc_a, .param .u64 desc_b,
                .param .u64 c, .param .u64 d, .param .u32 scale)
            {
                .reg .b32 %tid, %i, %n, %v, %at, %s;
                .reg .b64 %rd<6>, %da, %db;
                .reg .f32 %f<{{regs}}>;
                .reg .pred %p, %q;
                .shared .align 1024 .b8 buf[{{SharedBytes}}];
                mov.u32 %tid, %tid.x;
                ld.param.u64 %rd0, [image];
                ld.param.u32 %n, [words];
                mov.u32 %i, %tid;
            COPY:
                setp.ge.u32 %p, %i, %n;
                @%p bra DONE;
                mul.wide.u32 %rd1, %i, 4;
                add.s64 %rd2, %rd0, %rd1;
                ld.global.u32 %v, [%rd2];
                mov.u32 %at, buf;
                mad.lo.u32 %at, %i, 4, %at;
                st.shared.u32 [%at], %v;
                add.u32 %i, %i, 128;
                bra COPY;
            DONE:
                FENCE
                bar.sync 0;
                ld.param.u64 %rd3, [c];
                mul.wide.u32 %rd4, %tid, {{regs * 4}};
                add.s64 %rd3, %rd3, %rd4;
            {{loads}}
                ld.param.u64 %da, [desc_a];
                ld.param.u64 %db, [desc_b];
                ld.param.u32 %s, [scale];
                setp.ne.u32 %q, %s, 0;
                WGMMA_FENCE
                wgmma.mma_async.sync.aligned.m64n{{n}}k16.f32.{{type}}.{{type}} {{{list}}}, %da, %db, %q, {{scaleA}}, {{scaleB}}, 0, 0; // wgmma
                wgmma.commit_group.sync.aligned;
                BEFORE_WAIT
                wgmma.wait_group.sync.aligned 0;
                ld.param.u64 %rd5, [d];
                add.s64 %rd5, %rd5, %rd4;
            {{stores}}
                ret;
            }
            """;
    }

    internal static ushort ToBits(float value, bool bf16) => bf16 ? (ushort)(BitConverter.SingleToUInt32Bits(value) >> 16) : BitConverter.HalfToUInt16Bits((Half)value);

    internal static float FromBits(ushort bits, bool bf16) => bf16 ? BitConverter.UInt32BitsToSingle((uint)bits << 16) : (float)BitConverter.UInt16BitsToHalf(bits);

    /// <summary>Runs one wgmma on host matrices; returns D per (row, col) and the launch.</summary>
    private static (float[,] D, float[,] A, float[,] B, float[,] C, LaunchResult Launch) Run(int n, string type, Layout layoutA, Layout layoutB, bool scaleD, int seed,
        int scaleA = 1, int scaleB = 1, EmulatorOptions? options = null, Func<string, string>? edit = null)
    {
        bool bf16 = type == "bf16";
        var rng = new Random(seed);
        float Random16() => FromBits(ToBits((float)((rng.NextDouble() * 4) - 2) * MathF.ScaleB(1, rng.Next(-3, 4)), bf16), bf16);
        var a = new float[64, 16];
        var b = new float[n, 16];
        var c = new float[64, n];
        var image = new ushort[SharedBytes / 2];
        const int baseA = 0, baseB = 32 * 1024;
        for (int row = 0; row < 64; row++)
        {
            for (int k = 0; k < 16; k++)
            {
                a[row, k] = Random16();
                image[(baseA + layoutA.Offset(row, k)) / 2] = ToBits(a[row, k], bf16);
            }
        }

        for (int col = 0; col < n; col++)
        {
            for (int k = 0; k < 16; k++)
            {
                b[col, k] = Random16();
                image[(baseB + layoutB.Offset(col, k)) / 2] = ToBits(b[col, k], bf16);
            }
        }

        // C through the D fragment layout: thread t's register i.
        int regs = n / 2;
        var cFragments = new float[128 * regs];
        for (int row = 0; row < 64; row++)
        {
            for (int col = 0; col < n; col++)
            {
                c[row, col] = (float)((rng.NextDouble() * 20) - 10);
                cFragments[Fragment(row, col, regs)] = c[row, col];
            }
        }

        string ptx = PtxTestKernels.Header.Replace(".version 7.8", ".version 8.4").Replace("sm_90", "sm_90a")
            + Kernel(n, type, scaleA, scaleB).Replace("WGMMA_FENCE", "wgmma.fence.sync.aligned;").Replace("FENCE", "fence.proxy.async.shared::cta;")
                .Replace("BEFORE_WAIT", "");
        ptx = edit?.Invoke(ptx) ?? ptx;
        using var gpu = new EmulatedGpu(options);
        var imageBuffer = PtxTestKernels.Upload<ushort>(gpu, image, "image");
        var cBuffer = PtxTestKernels.Upload<float>(gpu, cFragments, "c");
        var dBuffer = gpu.Memory.Allocate(128 * regs * 4, "d");
        var launch = PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 128), imageBuffer, SharedBytes / 4, layoutA.Descriptor(baseA), layoutB.Descriptor(baseB),
            cBuffer, dBuffer, scaleD ? 1 : 0);
        var dFragments = PtxTestKernels.Download<float>(gpu, dBuffer, 128 * regs);
        var d = new float[64, n];
        for (int row = 0; row < 64; row++)
        {
            for (int col = 0; col < n; col++)
            {
                d[row, col] = dFragments[Fragment(row, col, regs)];
            }
        }

        return (d, a, b, c, launch);
    }

    /// <summary>Index into thread-major fragments of D element (row, col): thread 32·(row / 16) + 4·(row % 8) + (col % 8) / 2,
    /// register 4·(col / 8) + 2·((row % 16) / 8) + col % 2.</summary>
    private static int Fragment(int row, int col, int regs)
    {
        int thread = (32 * (row / 16)) + (4 * (row % 8)) + (col % 8 / 2);
        int register = (4 * (col / 8)) + (2 * (row % 16 / 8)) + (col % 2);
        return (thread * regs) + register;
    }

    private static void AssertProduct(float[,] d, float[,] a, float[,] b, float[,] c, bool scaleD, int signA = 1, int signB = 1)
    {
        for (int row = 0; row < d.GetLength(0); row++)
        {
            for (int col = 0; col < d.GetLength(1); col++)
            {
                double exact = scaleD ? c[row, col] : 0, magnitude = Math.Abs(exact);
                for (int k = 0; k < 16; k++)
                {
                    double p = (double)signA * a[row, k] * signB * b[col, k];
                    exact += p;
                    magnitude += Math.Abs(p);
                }

                Assert.That(d[row, col], Is.EqualTo(exact).Within((magnitude * Math.ScaleB(1, -22)) + 1e-30), $"D[{row},{col}]");
            }
        }
    }

    public static IEnumerable<TestCaseData> Layouts()
    {
        // Unswizzled: core matrices 128 bytes apart along K (leading) and 256 along M/N (stride), interleaved.
        yield return new TestCaseData(new Layout(0, 128, 256), new Layout(0, 128, 256), 16).SetName("no swizzle, LBO 128, SBO 256, N 16");
        // Gaps between core matrices (stride 512, leading 2048).
        yield return new TestCaseData(new Layout(0, 4096, 512), new Layout(0, 128, 256), 8).SetName("no swizzle with gaps, N 8");
        yield return new TestCaseData(new Layout(1, 16, 1024), new Layout(1, 16, 1024), 256).SetName("128B swizzle, N 256");
        // The k16 slices of a 64-wide tile: the descriptor start moves 32 bytes per slice inside the swizzled row.
        yield return new TestCaseData(new Layout(1, 16, 1024, KOffset: 16), new Layout(1, 16, 1024, KOffset: 48), 64).SetName("128B swizzle, k slices 1 and 3, N 64");
        yield return new TestCaseData(new Layout(2, 16, 512), new Layout(2, 16, 512, KOffset: 16), 32).SetName("64B swizzle, N 32");
        yield return new TestCaseData(new Layout(3, 16, 256), new Layout(3, 16, 256), 24).SetName("32B swizzle, N 24");
    }

    [TestCaseSource(nameof(Layouts))]
    public void ProductMatchesDoublePrecision(Layout a, Layout b, int n)
    {
        var (d, ma, mb, mc, _) = Run(n, "bf16", a, b, scaleD: true, seed: n);
        AssertProduct(d, ma, mb, mc, scaleD: true);
    }

    [Test]
    public void ScaleDZeroIgnoresTheAccumulatorAndImmScaleNegates()
    {
        var layout = new Layout(1, 16, 1024);
        var (d, a, b, c, _) = Run(16, "bf16", layout, layout, scaleD: false, seed: 5, scaleA: -1);
        AssertProduct(d, a, b, c, scaleD: false, signA: -1);
        (d, a, b, c, _) = Run(16, "f16", layout, layout, scaleD: true, seed: 6, scaleB: -1);
        AssertProduct(d, a, b, c, scaleD: true, signB: -1);
    }

    [Test]
    public void CountersChargeTheFullTensorRate()
    {
        // One m64n64k16 per warpgroup: 2·64·64·16 FLOPs (each of the 4 warps counts its 16 rows). The model puts
        // wgmma at the dense peak of 4096 FLOP/clk per SM, where mma.sync gets MmaSyncFractionOfPeak of it.
        var layout = new Layout(1, 16, 1024);
        var (d, a, b, c, launch) = Run(64, "bf16", layout, layout, scaleD: true, seed: 9, options: new EmulatorOptions { Counters = true });
        AssertProduct(d, a, b, c, scaleD: true);
        Assert.That(launch.Counters!.WgmmaFlops, Is.EqualTo(2.0 * 64 * 64 * 16));
        var model = new PtxEmulator.Model.H200Model();
        var estimate = model.Estimate(launch);
        var tensor = estimate.Bounds.Single(x => x.Kind == PtxEmulator.Model.BoundKind.Tensor);
        Assert.That(tensor.Seconds, Is.EqualTo(2.0 * 64 * 64 * 16 / 4096 / model.Spec.ClockHz).Within(1e-15));
        Assert.That(estimate.CountedWork.TensorFlops, Is.EqualTo(2.0 * 64 * 64 * 16));
    }

    /// <summary>The sanitizer's rules for wgmma, each with a kernel that breaks one of them.</summary>
    public static IEnumerable<TestCaseData> Broken()
    {
        yield return new TestCaseData((Func<string, string>)(p => p.Replace("fence.proxy.async.shared::cta;", "")), SanitizerRule.MissingProxyFence, "// wgmma")
            .SetName("shared memory written without fence.proxy.async before wgmma reads it");
        yield return new TestCaseData((Func<string, string>)(p => p.Replace("wgmma.fence.sync.aligned;", "")), SanitizerRule.AsyncHazard, "// wgmma")
            .SetName("wgmma without wgmma.fence");
        yield return new TestCaseData((Func<string, string>)(p => p.Replace("    wgmma.commit_group.sync.aligned;\n", "    wgmma.commit_group.sync.aligned;\n    st.shared.u32 [buf+32768], %tid; // fault\n")),
            SanitizerRule.AsyncHazard, "// fault").SetName("a write to B before the wgmma.wait_group");
        yield return new TestCaseData((Func<string, string>)(p => p.Replace("    wgmma.commit_group.sync.aligned;\n", "    wgmma.commit_group.sync.aligned;\n    add.f32 %f0, %f0, %f1; // fault\n")),
            SanitizerRule.AsyncHazard, "// fault").SetName("an accumulator used before the wgmma.wait_group");
    }

    [TestCaseSource(nameof(Broken))]
    public void SanitizerCatchesMisuse(Func<string, string> edit, SanitizerRule rule, string marker)
    {
        var layout = new Layout(1, 16, 1024);
        string? ptx = null;
        var error = Assert.Throws<PtxKernelFaultException>(() => Run(16, "bf16", layout, layout, scaleD: true, seed: 3, edit: p => ptx = edit(p)))!;
        var finding = error.Findings.FirstOrDefault(f => f.Rule == rule);
        Assert.That(finding, Is.Not.Null, error.Message);
        Assert.That(finding!.Line, Is.EqualTo(AsyncCopyTests.LineOf(ptx!, marker)), finding.ToString());
    }

    [Test]
    public void APartialWarpgroupIsAFinding()
    {
        var layout = new Layout(1, 16, 1024);
        string ptx = PtxTestKernels.Header + Kernel(8, "bf16", 1, 1).Replace("WGMMA_FENCE", "wgmma.fence.sync.aligned;").Replace("FENCE", "fence.proxy.async.shared::cta;").Replace("BEFORE_WAIT", "");
        using var gpu = new EmulatedGpu();
        var image = PtxTestKernels.Upload<uint>(gpu, new uint[SharedBytes / 4], "image");
        var c = PtxTestKernels.Upload<float>(gpu, new float[128 * 4], "c");
        var d = gpu.Memory.Allocate(128 * 4 * 4, "d");
        var error = Assert.Throws<PtxKernelFaultException>(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 96), image, SharedBytes / 4,
            layout.Descriptor(0), layout.Descriptor(32 * 1024), c, d, 1))!;
        Assert.That(error.Findings.Select(f => f.Rule), Does.Contain(SanitizerRule.WarpSyncMismatch));
    }
}
