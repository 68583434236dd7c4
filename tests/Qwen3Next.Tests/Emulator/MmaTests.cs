using NUnit.Framework;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{bf16,f16}.f32: A (16×16), B (16×8) and C (16×8) are filled on
/// the host, distributed into the 32 lanes' fragments by this test's own transcription of the ISA's fragment
/// layouts (PTX ISA §9.7.13.4.8, "Matrix fragments for mma.m16n8k16"), and D is compared with C + A·B in double.
/// </summary>
[TestFixture]
public sealed class MmaTests
{
    private const string Kernel = """
        .visible .entry mma(.param .u64 a, .param .u64 b, .param .u64 c, .param .u64 d)
        {
            .reg .b32 %a<4>, %b<2>, %lane;
            .reg .f32 %c<4>, %d<4>;
            .reg .b64 %rd<6>;
            mov.u32 %lane, %laneid;
            ld.param.u64 %rd0, [a];
            mul.wide.u32 %rd4, %lane, 16;
            add.s64 %rd0, %rd0, %rd4;
            ld.global.v4.b32 {%a0, %a1, %a2, %a3}, [%rd0];
            ld.param.u64 %rd1, [b];
            mul.wide.u32 %rd5, %lane, 8;
            add.s64 %rd1, %rd1, %rd5;
            ld.global.v2.b32 {%b0, %b1}, [%rd1];
            ld.param.u64 %rd2, [c];
            add.s64 %rd2, %rd2, %rd4;
            ld.global.v4.f32 {%c0, %c1, %c2, %c3}, [%rd2];
            mma.sync.aligned.m16n8k16.row.col.f32.TYPE.TYPE.f32 {%d0, %d1, %d2, %d3}, {%a0, %a1, %a2, %a3}, {%b0, %b1}, {%c0, %c1, %c2, %c3};
            ld.param.u64 %rd3, [d];
            add.s64 %rd3, %rd3, %rd4;
            st.global.v4.f32 [%rd3], {%d0, %d1, %d2, %d3};
            ret;
        }
        """;

    /// <summary>Element i (0-7) of lane's A fragment: row groupID (+8 for i = 2, 3, 6, 7), column 2·tig + (i &amp; 1) (+8 for i ≥ 4).</summary>
    private static (int Row, int Col) AElement(int lane, int i) => ((lane / 4) + (i is 2 or 3 or 6 or 7 ? 8 : 0), (lane % 4 * 2) + (i & 1) + (i >= 4 ? 8 : 0));

    /// <summary>Element i (0-3) of lane's B fragment: row (k) 2·tig + (i &amp; 1) (+8 for i ≥ 2), column groupID.</summary>
    private static (int Row, int Col) BElement(int lane, int i) => ((lane % 4 * 2) + (i & 1) + (i >= 2 ? 8 : 0), lane / 4);

    /// <summary>Element i (0-3) of lane's C/D fragment: row groupID (+8 for i ≥ 2), column 2·tig + (i &amp; 1).</summary>
    private static (int Row, int Col) CElement(int lane, int i) => ((lane / 4) + (i >= 2 ? 8 : 0), (lane % 4 * 2) + (i & 1));

    private static ushort ToBits(float value, bool bf16) => bf16 ? (ushort)(BitConverter.SingleToUInt32Bits(value) >> 16) : BitConverter.HalfToUInt16Bits((Half)value);

    private static float FromBits(ushort bits, bool bf16) => bf16 ? BitConverter.UInt32BitsToSingle((uint)bits << 16) : (float)BitConverter.UInt16BitsToHalf(bits);

    [TestCase("bf16", 1)]
    [TestCase("bf16", 2)]
    [TestCase("f16", 3)]
    public void ProductMatchesDoublePrecision(string type, int seed)
    {
        bool bf16 = type == "bf16";
        var rng = new Random(seed);
        float Random16() => FromBits(ToBits((float)((rng.NextDouble() * 4) - 2) * (rng.Next(8) == 0 ? 0 : 1) * MathF.ScaleB(1, rng.Next(-3, 4)), bf16), bf16);
        var a = new float[16, 16];
        var b = new float[16, 8];
        var c = new float[16, 8];
        for (int r = 0; r < 16; r++)
        {
            for (int k = 0; k < 16; k++)
            {
                a[r, k] = Random16();
            }
        }

        for (int k = 0; k < 16; k++)
        {
            for (int n = 0; n < 8; n++)
            {
                b[k, n] = Random16();
                c[k, n] = (float)((rng.NextDouble() * 20) - 10);
            }
        }

        // Distribute into fragments: each .b32 register packs two 16-bit elements, the lower-numbered one in the low half.
        var aFragments = new uint[32 * 4];
        var bFragments = new uint[32 * 2];
        var cFragments = new float[32 * 4];
        for (int lane = 0; lane < 32; lane++)
        {
            for (int i = 0; i < 8; i++)
            {
                var (row, col) = AElement(lane, i);
                aFragments[(lane * 4) + (i / 2)] |= (uint)ToBits(a[row, col], bf16) << (16 * (i % 2));
            }

            for (int i = 0; i < 4; i++)
            {
                var (row, col) = BElement(lane, i);
                bFragments[(lane * 2) + (i / 2)] |= (uint)ToBits(b[row, col], bf16) << (16 * (i % 2));
                var (cRow, cCol) = CElement(lane, i);
                cFragments[(lane * 4) + i] = c[cRow, cCol];
            }
        }

        using var gpu = new EmulatedGpu();
        var d = gpu.Memory.Allocate(32 * 4 * 4, "d");
        PtxTestKernels.Launch(gpu, PtxTestKernels.Header + Kernel.Replace("TYPE", type), new LaunchGeometry(1, 32),
            PtxTestKernels.Upload<uint>(gpu, aFragments, "a"), PtxTestKernels.Upload<uint>(gpu, bFragments, "b"), PtxTestKernels.Upload<float>(gpu, cFragments, "c"), d);
        var dFragments = PtxTestKernels.Download<float>(gpu, d, 32 * 4);

        var seen = new bool[16, 8];
        for (int lane = 0; lane < 32; lane++)
        {
            for (int i = 0; i < 4; i++)
            {
                var (row, col) = CElement(lane, i);
                seen[row, col] = true;
                double exact = c[row, col], magnitude = Math.Abs(c[row, col]);
                for (int k = 0; k < 16; k++)
                {
                    exact += (double)a[row, k] * b[k, col];
                    magnitude += Math.Abs((double)a[row, k] * b[k, col]);
                }

                Assert.That(dFragments[(lane * 4) + i], Is.EqualTo(exact).Within((magnitude * Math.ScaleB(1, -22)) + 1e-30),
                    $"D[{row},{col}] (lane {lane}, element {i})");
            }
        }

        Assert.That(seen.Cast<bool>(), Is.All.True, "the C/D layout covers every element once");
    }

    [Test]
    public void MmaNeedsTheWholeWarp()
    {
        // .aligned: all 32 lanes must execute the same mma; a partial warp is a finding, not a silent result.
        string ptx = PtxTestKernels.Header + Kernel.Replace("TYPE", "bf16");
        using var gpu = new EmulatedGpu();
        var zeros = PtxTestKernels.Upload<uint>(gpu, new uint[128], "zeros");
        var d = gpu.Memory.Allocate(32 * 4 * 4, "d");
        var error = Assert.Throws<PtxKernelFaultException>(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 16), zeros, zeros, zeros, d));
        Assert.That(error!.Findings.Select(f => f.Rule), Does.Contain(PtxEmulator.Sanitizer.SanitizerRule.WarpSyncMismatch));
    }
}
