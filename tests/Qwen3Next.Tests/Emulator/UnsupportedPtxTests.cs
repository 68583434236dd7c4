using NUnit.Framework;
using Qwen3Next.PtxEmulator;

namespace Qwen3Next.Tests.Emulator;

/// <summary>PTX the emulator does not implement fails loudly when the module loads — an
/// <see cref="UnsupportedPtxException"/> naming the module, the line and the construct — and is never skipped.</summary>
[TestFixture]
public sealed class UnsupportedPtxTests
{
    /// <summary>A module whose line 7 is <paramref name="line"/> inside a kernel body.</summary>
    private static string Kernel(string line) => $$"""
        .version 7.8
        .target sm_90
        .address_size 64
        .visible .entry k(.param .u64 p)
        {
            .reg .b32 %r<4>;
            {{line}}
            ret;
        }
        """;

    private static UnsupportedPtxException Load(string ptx)
    {
        using var gpu = new EmulatedGpu();
        return Assert.Throws<UnsupportedPtxException>(() => gpu.LoadModule(ptx, "odd.ptx"))!;
    }

    [TestCase("frobnicate.b32 %r1, %r2;", "instruction frobnicate")]
    [TestCase("add.wrap.s32 %r1, %r2, %r3;", "modifier .wrap of add")]
    [TestCase("ld.global.L2::128B.u32 %r1, [%r2];", "modifier .L2::128B of ld")]
    [TestCase("shfl.sync.bfly.b64 %r1, %r2, 1, 31, -1;", "shfl type")]
    [TestCase("add.s16 %r1, %r2, %r3;", "type .s16")]
    [TestCase("mov.u32 %r1, %r9;", "undeclared")]
    [TestCase("mov.u32 %r1, %clock;", "register %clock")]
    [TestCase("bra.uni NOWHERE;", "branch target")]
    [TestCase("ld.shared.nc.u32 %r1, [%r2];", ".nc outside the global space")]
    [TestCase("prmt.b32.f4e %r1, %r2, %r3, %r0;", "prmt mode")]
    [TestCase("bar.arrive 0, 64;", "barrier form")]
    [TestCase("mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%r0, %r1, %r2, %r3}, {%r0, %r1}, {%r0}, {%r0, %r1, %r2, %r3};", "mma form")]
    [TestCase("ldmatrix.sync.aligned.m16n16.x1.trans.shared.b8 {%r0}, [%r1];", "ldmatrix form")]
    [TestCase("cvt.rz.bf16x2.f32 %r1, %r2, %r3;", "cvt to .bf16x2")]
    [TestCase(".maxclusterrank 2;", "directive in '.maxclusterrank'")]
    public void UnknownConstructsInAKernelNameTheirLine(string line, string construct)
    {
        var error = Load(Kernel(line));
        Assert.That(error.Module, Is.EqualTo("odd.ptx"));
        Assert.That(error.Line, Is.EqualTo(7), error.Message);
        Assert.That(error.Message, Does.StartWith("odd.ptx:7:").And.Contain(construct));
    }

    [TestCase(".section .debug_info { }", "directive in '.section'")]
    [TestCase(".func helper() { ret; }", ".func")]
    [TestCase(".address_size 32", ".address_size 32")]
    [TestCase(".weak .func helper() { ret; }", ".func")]
    public void UnknownModuleDirectivesNameTheirLine(string line, string construct)
    {
        string ptx = ".version 7.8\n.target sm_90\n" + line + "\n.visible .entry k()\n{\n    ret;\n}\n";
        var error = Load(ptx);
        Assert.That(error.Line, Is.EqualTo(3), error.Message);
        Assert.That(error.Message, Does.StartWith("odd.ptx:3:").And.Contain(construct));
    }

    [Test]
    public void AnUnknownPerformanceDirectiveNamesItsLine()
    {
        string ptx = ".version 7.8\n.target sm_90\n.address_size 64\n.visible .entry k()\n.explicitcluster\n{\n    ret;\n}\n";
        var error = Load(ptx);
        Assert.That(error.Line, Is.EqualTo(5));
        Assert.That(error.Construct, Does.Contain("performance directive"));
    }

    [Test]
    public void NothingIsSkippedAfterTheFirstSupportedInstructions()
    {
        // An unsupported instruction late in a long kernel still fails the load: decoding covers every line.
        var body = string.Join("\n    ", Enumerable.Range(0, 200).Select(i => $"add.s32 %r1, %r1, {i};"));
        string ptx = Kernel(body + "\n    popc.b16 %r1, %r2;");
        var error = Load(ptx);
        Assert.That(error.Line, Is.EqualTo(207));
    }
}
