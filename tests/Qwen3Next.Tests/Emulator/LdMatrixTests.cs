using NUnit.Framework;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;
using Qwen3Next.PtxEmulator.Sanitizer;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// ldmatrix (PTX ISA §9.7.13.4.15) and cvt.rn.bf16x2.f32 (§9.7.9.21), the register-fragment side of the mma.sync
/// kernels: element layouts transcribed here from the ISA text, and ldmatrix fragments fed to mma and checked
/// against a double-precision product (cp.async is tested in AsyncCopyTests).
/// </summary>
[TestFixture]
public sealed class LdMatrixTests
{
    /// <summary>32 rows of 8 b16 in shared memory (row i = src row i); lane l points ldmatrix at row rowsel[l] and
    /// stores its N result registers to out[l·4 + i].</summary>
    private const string LdMatrixKernel = """
        .visible .entry ldm(.param .u64 src, .param .u64 rowsel, .param .u64 out)
        {
            .shared .align 16 .b8 sm[512];
            .reg .b32 %lane, %sel, %addr, %base, %d<4>, %v<4>;
            .reg .b64 %rd<6>;
            mov.u32 %lane, %laneid;
            ld.param.u64 %rd0, [src];
            mul.wide.u32 %rd1, %lane, 16;
            add.s64 %rd2, %rd0, %rd1;
            ld.global.v4.b32 {%v0, %v1, %v2, %v3}, [%rd2];
            mov.u32 %base, sm;
            shl.b32 %addr, %lane, 4;
            add.s32 %addr, %addr, %base;
            st.shared.v4.b32 [%addr], {%v0, %v1, %v2, %v3};
            bar.sync 0;
            ld.param.u64 %rd3, [rowsel];
            mul.wide.u32 %rd1, %lane, 4;
            add.s64 %rd3, %rd3, %rd1;
            ld.global.u32 %sel, [%rd3];
            shl.b32 %addr, %sel, 4;
            add.s32 %addr, %addr, %base;
            LDMATRIX
            ld.param.u64 %rd4, [out];
            mul.wide.u32 %rd1, %lane, 16;
            add.s64 %rd4, %rd4, %rd1;
            st.global.v4.b32 [%rd4], {%d0, %d1, %d2, %d3};
            ret;
        }
        """;

    private static string LdMatrixPtx(int count, bool transpose)
    {
        string registers = string.Join(", ", Enumerable.Range(0, count).Select(i => $"%d{i}"));
        string zero = string.Concat(Enumerable.Range(count, 4 - count).Select(i => $"mov.b32 %d{i}, 0;\n"));
        return PtxTestKernels.Header + LdMatrixKernel.Replace("LDMATRIX",
            $"{zero}ldmatrix.sync.aligned.m8n8.x{count}{(transpose ? ".trans" : "")}.shared.b16 {{{registers}}}, [%addr];");
    }

    [Test]
    public void LdMatrixDeliversRowsOrColumnsOfEachMatrix([Values(1, 2, 4)] int count, [Values] bool transpose)
    {
        var rng = new Random((count * 2) + (transpose ? 1 : 0));
        var rows = new ushort[32 * 8];
        for (int i = 0; i < rows.Length; i++)
        {
            rows[i] = (ushort)rng.Next(1 << 16);
        }

        // A permutation of the stored rows; lanes past 8·count point outside shared memory: their addresses are unused.
        var rowsel = Enumerable.Range(0, 32).OrderBy(_ => rng.Next()).Select((r, lane) => lane < count * 8 ? (uint)r : 0x0100_0000u).ToArray();
        using var gpu = new EmulatedGpu();
        var output = gpu.Memory.Allocate(32 * 16, "out");
        PtxTestKernels.Launch(gpu, LdMatrixPtx(count, transpose), new LaunchGeometry(1, 32),
            PtxTestKernels.Upload<ushort>(gpu, rows, "src"), PtxTestKernels.Upload<uint>(gpu, rowsel, "rowsel"), output);
        var result = PtxTestKernels.Download<uint>(gpu, output, 32 * 4);

        // ISA: matrix i's row r is at the address of thread 8i + r. Without .trans thread l holds row l/4, elements
        // 2(l%4) and 2(l%4)+1; with .trans it holds those elements of column l/4. Lower element in the low half.
        ushort Element(int matrix, int row, int col) => rows[(rowsel[(matrix * 8) + row] * 8) + col];
        for (int lane = 0; lane < 32; lane++)
        {
            for (int i = 0; i < 4; i++)
            {
                int g = lane / 4, t = lane % 4;
                uint expected = i >= count ? 0
                    : transpose ? Element(i, 2 * t, g) | ((uint)Element(i, (2 * t) + 1, g) << 16)
                    : Element(i, g, 2 * t) | ((uint)Element(i, g, (2 * t) + 1) << 16);
                Assert.That(result[(lane * 4) + i], Is.EqualTo(expected), $"lane {lane}, register {i}");
            }
        }
    }

    /// <summary>A (16×16, row-major) and B (stored as Bᵀ [n][k] or as B [k][n]) are staged in shared memory, loaded
    /// with ldmatrix (.x4 for A; .x2 for Bᵀ, .x2.trans for B) and multiplied by mma: the fragments ldmatrix gives
    /// must be the ones mma expects.</summary>
    private const string LdMatrixMmaKernel = """
        .visible .entry ldm_mma(.param .u64 a, .param .u64 b, .param .u64 d)
        {
            .shared .align 16 .b8 sa[512];
            .shared .align 16 .b8 sb[256];
            .reg .b32 %lane, %row, %half, %addr, %base, %a<4>, %b<2>, %v<4>;
            .reg .f32 %c<4>;
            .reg .b64 %rd<4>;
            mov.u32 %lane, %laneid;
            ld.param.u64 %rd0, [a];
            mul.wide.u32 %rd1, %lane, 16;
            add.s64 %rd2, %rd0, %rd1;
            ld.global.v4.b32 {%v0, %v1, %v2, %v3}, [%rd2];
            mov.u32 %base, sa;
            shl.b32 %addr, %lane, 4;
            add.s32 %addr, %addr, %base;
            st.shared.v4.b32 [%addr], {%v0, %v1, %v2, %v3};
            setp.lt.u32 %p0, %lane, 16;
            @!%p0 bra STAGED;
            ld.param.u64 %rd0, [b];
            add.s64 %rd2, %rd0, %rd1;
            ld.global.v4.b32 {%v0, %v1, %v2, %v3}, [%rd2];
            mov.u32 %base, sb;
            add.s32 %addr, %base, %addr;
            mov.u32 %base, sa;
            sub.s32 %addr, %addr, %base;
            st.shared.v4.b32 [%addr], {%v0, %v1, %v2, %v3};
        STAGED:
            bar.sync 0;
            // A row-major 16x16 = 32 rows of 8: matrix 0 rows 0-7 cols 0-7, 1 rows 8-15 cols 0-7, 2 rows 0-7 cols 8-15, 3 rows 8-15 cols 8-15.
            and.b32 %row, %lane, 15;
            shr.u32 %half, %lane, 4;
            mad.lo.s32 %addr, %row, 32, sa;
            mad.lo.s32 %addr, %half, 16, %addr;
            ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%a0, %a1, %a2, %a3}, [%addr];
            BLOAD
            mov.f32 %c0, 0f00000000;
            mov.f32 %c1, 0f00000000;
            mov.f32 %c2, 0f00000000;
            mov.f32 %c3, 0f00000000;
            mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%c0, %c1, %c2, %c3}, {%a0, %a1, %a2, %a3}, {%b0, %b1}, {%c0, %c1, %c2, %c3};
            ld.param.u64 %rd3, [d];
            add.s64 %rd3, %rd3, %rd1;
            st.global.v4.f32 [%rd3], {%c0, %c1, %c2, %c3};
            ret;
        }
        """;

    // Bᵀ [8 n][16 k]: matrix 0 = k 0-7 (rows n 0-7 at 32-byte stride), matrix 1 = k 8-15.
    private const string LoadTransposedStore = """
            and.b32 %row, %lane, 7;
            shr.u32 %half, %lane, 3;
            and.b32 %half, %half, 1;
            mad.lo.s32 %addr, %row, 32, sb;
            mad.lo.s32 %addr, %half, 16, %addr;
            ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%b0, %b1}, [%addr];
        """;

    // B [16 k][8 n]: matrix 0 = rows k 0-7, matrix 1 = rows k 8-15 (16-byte rows), each delivered transposed.
    private const string LoadRowMajorTrans = """
            and.b32 %row, %lane, 15;
            mad.lo.s32 %addr, %row, 16, sb;
            ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%b0, %b1}, [%addr];
        """;

    [Test]
    public void LdMatrixFragmentsFeedMma([Values] bool bRowMajor)
    {
        var rng = new Random(bRowMajor ? 7 : 8);
        static ushort Bf16(float x) => (ushort)(BitConverter.SingleToUInt32Bits(x) >> 16);
        static float Widen(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);
        var a = new ushort[16 * 16];
        var b = new ushort[16 * 8];   // b[k, n]
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = Bf16((float)((rng.NextDouble() * 4) - 2));
        }

        for (int i = 0; i < b.Length; i++)
        {
            b[i] = Bf16((float)((rng.NextDouble() * 4) - 2));
        }

        var stored = new ushort[16 * 8];
        for (int k = 0; k < 16; k++)
        {
            for (int n = 0; n < 8; n++)
            {
                stored[bRowMajor ? (k * 8) + n : (n * 16) + k] = b[(k * 8) + n];
            }
        }

        using var gpu = new EmulatedGpu();
        var d = gpu.Memory.Allocate(32 * 16, "d");
        string ptx = PtxTestKernels.Header + LdMatrixMmaKernel.Replace(".reg .b64 %rd<4>;", ".reg .b64 %rd<4>;\n    .reg .pred %p0;")
            .Replace("BLOAD", bRowMajor ? LoadRowMajorTrans : LoadTransposedStore);
        PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 32), PtxTestKernels.Upload<ushort>(gpu, a, "a"), PtxTestKernels.Upload<ushort>(gpu, stored, "b"), d);
        var result = PtxTestKernels.Download<float>(gpu, d, 32 * 4);
        for (int lane = 0; lane < 32; lane++)
        {
            for (int i = 0; i < 4; i++)
            {
                int row = (lane / 4) + (i >= 2 ? 8 : 0), col = (lane % 4 * 2) + (i & 1);
                double exact = 0, magnitude = 0;
                for (int k = 0; k < 16; k++)
                {
                    double p = (double)Widen(a[(row * 16) + k]) * Widen(b[(k * 8) + col]);
                    exact += p;
                    magnitude += Math.Abs(p);
                }

                Assert.That(result[(lane * 4) + i], Is.EqualTo(exact).Within((magnitude * Math.ScaleB(1, -22)) + 1e-30), $"D[{row},{col}]");
            }
        }
    }

    [Test]
    public void LdMatrixNeedsTheWholeWarp()
    {
        using var gpu = new EmulatedGpu();
        var rows = PtxTestKernels.Upload<ushort>(gpu, new ushort[32 * 8], "src");
        var rowsel = PtxTestKernels.Upload<uint>(gpu, new uint[32], "rowsel");
        var output = gpu.Memory.Allocate(32 * 16, "out");
        var error = Assert.Throws<PtxKernelFaultException>(() => PtxTestKernels.Launch(gpu, LdMatrixPtx(4, false), new LaunchGeometry(1, 16), rows, rowsel, output));
        Assert.That(error!.Findings.Select(f => f.Rule), Does.Contain(SanitizerRule.WarpSyncMismatch));
    }

    [TestCase(1f, -2.5f)]
    [TestCase(1.00390625f, 1.01171875f)]
    public void CvtBf16x2PutsTheFirstSourceInTheUpperHalf(float first, float second)
    {
        var inputs = new List<float> { first, float.NaN, float.PositiveInfinity, -0f, 3.4e38f, 1e-40f };
        var rng = new Random(5);
        for (int i = 0; i < 200; i++)
        {
            inputs.Add(BitConverter.UInt32BitsToSingle((uint)(rng.NextInt64(0, 1L << 32) & 0xFFFF_8000) | (uint)(i % 2 == 0 ? 0x8000 : 0x7FFF)));
        }

        inputs.RemoveAll(x => !float.IsFinite(x) && !float.IsNaN(x) && !float.IsInfinity(x));
        var others = inputs.Select((x, i) => i == 0 ? second : inputs[(i * 7) % inputs.Count]).ToList();
        static ulong Round(float x)
            => float.IsNaN(x) ? 0x7FFF : float.IsInfinity(x) || x == 0 ? BitConverter.SingleToUInt32Bits(x) >> 16
                : ExactRational.FromSingle(x).Round(BinaryFormat.BFloat16, RoundingMode.Nearest);
        var result = new ElementwiseKernel("cvt.rn.bf16x2.f32 %o0, %i0, %i1;", ["f32", "f32"], ["b32"])
            .Run(ElementwiseKernel.Bits(inputs), ElementwiseKernel.Bits(others))[0];
        for (int i = 0; i < inputs.Count; i++)
        {
            ulong hi = result[i] >> 16, lo = result[i] & 0xFFFF;
            bool hiOk = float.IsNaN(inputs[i]) ? BinaryFormat.BFloat16.IsNaN(hi) : hi == Round(inputs[i]);
            bool loOk = float.IsNaN(others[i]) ? BinaryFormat.BFloat16.IsNaN(lo) : lo == Round(others[i]);
            Assert.That(hiOk && loOk, $"cvt.rn.bf16x2.f32({inputs[i]}, {others[i]}) = 0x{result[i]:X8}");
        }
    }
}
