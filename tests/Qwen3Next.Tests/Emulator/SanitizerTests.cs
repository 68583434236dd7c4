using System.Runtime.InteropServices;
using NUnit.Framework;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;
using Qwen3Next.PtxEmulator.Memory;
using Qwen3Next.PtxEmulator.Sanitizer;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// One deliberately broken kernel per <see cref="SanitizerRule"/>: each finding names the rule, kernel, PTX line
/// (the line marked <c>// fault</c>), thread, block and address; the host process survives, and memory next to the
/// allocation (a guard allocation) is untouched. The same patterns made correct give no finding, and with the
/// sanitizer off out-of-bounds accesses are still caught while races are not.
/// </summary>
[TestFixture]
public sealed class SanitizerTests
{
    private const ulong SharedWindow = 0xFFFF_F000_0000_0000;
    private const uint GuardPattern = 0xC0DE_C0DE;

    private static int FaultLine(string ptx, string marker = "// fault")
    {
        var lines = ptx.Split('\n');
        int index = Array.FindIndex(lines, l => l.Contains(marker, StringComparison.Ordinal));
        Assert.That(index, Is.GreaterThanOrEqualTo(0), $"no line marked {marker}");
        return index + 1;
    }

    private static SanitizerFinding Expect(PtxKernelFaultException error, SanitizerRule rule, string kernel, int line, (int, int, int) thread, (int, int, int) block, ulong? address = null)
    {
        var finding = error.Findings.FirstOrDefault(f => f.Rule == rule);
        Assert.That(finding, Is.Not.Null, $"no {rule} finding; got:{Environment.NewLine}{error.Message}");
        Assert.That(finding!.Kernel, Is.EqualTo(kernel));
        Assert.That(finding.Line, Is.EqualTo(line), finding.ToString());
        Assert.That(finding.Thread, Is.EqualTo(thread), finding.ToString());
        Assert.That(finding.Block, Is.EqualTo(block), finding.ToString());
        if (address is not null)
        {
            Assert.That(finding.Address, Is.EqualTo(address.Value), finding.ToString());
        }

        Assert.That(error.Message, Does.Contain(rule.ToString()).And.Contain(kernel));
        return finding;
    }

    private static PtxKernelFaultException Faults(Func<LaunchResult> launch)
        => Assert.Throws<PtxKernelFaultException>(() => launch())!;

    private static MemoryRegion Guard(EmulatedGpu gpu) => PtxTestKernels.Upload<uint>(gpu, Enumerable.Repeat(GuardPattern, 64).ToArray(), "guard");

    private static void AssertGuardIntact(EmulatedGpu gpu, MemoryRegion guard)
        => Assert.That(PtxTestKernels.Download<uint>(gpu, guard, 64), Is.All.EqualTo(GuardPattern), "the guard allocation was not touched");

    private const string StoreIndexed = """
        .visible .entry store_indexed(.param .u64 data)
        {
            .reg .b32 %tid, %cta, %i;
            .reg .b64 %rd<3>;
            mov.u32 %tid, %tid.x;
            mov.u32 %cta, %ctaid.x;
            mad.lo.s32 %i, %cta, 32, %tid;
            ld.param.u64 %rd0, [data];
            mul.wide.u32 %rd1, %i, 4;
            add.s64 %rd2, %rd0, %rd1;
            st.global.u32 [%rd2], %i; // fault
            ret;
        }
        """;

    [Test]
    public void OutOfBoundsGlobalWriteIsCaughtAndSkipped([Values] bool counters)
    {
        string ptx = PtxTestKernels.Header + StoreIndexed;
        using var gpu = new EmulatedGpu(new EmulatorOptions { Counters = counters });
        var data = PtxTestKernels.Upload<uint>(gpu, new uint[63], "data");
        var guard = Guard(gpu);
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(2, 32), data));

        Expect(error, SanitizerRule.OutOfBounds, "store_indexed", FaultLine(ptx), (31, 0, 0), (1, 0, 0), data.Start + (63 * 4));
        Assert.That(error.Findings, Has.Count.EqualTo(1));
        Assert.That(PtxTestKernels.Download<uint>(gpu, data, 63), Is.EqualTo(Enumerable.Range(0, 63).Select(i => (uint)i).ToArray()), "in-bounds stores happened");
        AssertGuardIntact(gpu, guard);
    }

    [Test]
    public void OutOfBoundsGlobalReadYieldsZeroAndIsCaught([Values] bool counters)
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry read_past(.param .u64 data, .param .u64 out)
            {
                .reg .b32 %tid, %v;
                .reg .b64 %rd<4>;
                mov.u32 %tid, %tid.x;
                ld.param.u64 %rd0, [data];
                ld.param.u64 %rd3, [out];
                mul.wide.u32 %rd1, %tid, 4;
                add.s64 %rd2, %rd0, %rd1;
                ld.global.u32 %v, [%rd2+64]; // fault
                add.s64 %rd3, %rd3, %rd1;
                st.global.u32 [%rd3], %v;
                ret;
            }
            """;
        using var gpu = new EmulatedGpu(new EmulatorOptions { Counters = counters });
        var data = PtxTestKernels.Upload<uint>(gpu, Enumerable.Range(1, 20).Select(i => (uint)i).ToArray(), "data");
        var output = PtxTestKernels.Upload<uint>(gpu, Enumerable.Repeat(7u, 8).ToArray(), "out");
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 8), data, output));
        Expect(error, SanitizerRule.OutOfBounds, "read_past", FaultLine(ptx), (4, 0, 0), (0, 0, 0), data.Start + 80);
        Assert.That(PtxTestKernels.Download<uint>(gpu, output, 8), Is.EqualTo(new uint[] { 17, 18, 19, 20, 0, 0, 0, 0 }));
    }

    [Test]
    public void OutOfBoundsSharedAccessIsCaughtAtEitherEnd([Values] bool counters)
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry shared_edges(.param .u64 out, .param .u64 offset)
            {
                .shared .align 4 .b32 tile[32];
                .reg .pred %last;
                .reg .b32 %tid, %addr, %v;
                .reg .b64 %rd<4>;
                mov.u32 %tid, %tid.x;
                shl.b32 %addr, %tid, 2;
                st.shared.u32 [%addr], %tid; // fault
                ld.param.u64 %rd1, [offset];
                setp.eq.u32 %last, %tid, 0;
                @%last ld.shared.u32 %v, [%rd1]; // wrapped
                ret;
            }
            """;
        using var gpu = new EmulatedGpu(new EmulatorOptions { Counters = counters });
        var output = gpu.Memory.Allocate(4, "out");

        // Thread 32 stores one word past the 128-byte array.
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 33), output, 0ul));
        Expect(error, SanitizerRule.OutOfBounds, "shared_edges", FaultLine(ptx), (32, 0, 0), (0, 0, 0), 128);

        // A negative 64-bit shared offset must not wrap around the bounds check into the host heap.
        var below = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 32), output, unchecked((ulong)-4L)));
        Expect(below, SanitizerRule.OutOfBounds, "shared_edges", FaultLine(ptx, "// wrapped"), (0, 0, 0), (0, 0, 0), unchecked((ulong)-4L));
    }

    [Test]
    public void OutOfBoundsLocalAndParamAccessesAreCaught()
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry frames(.param .u64 out, .param .u64 index)
            {
                .local .align 4 .b8 frame[16];
                .reg .b32 %v;
                .reg .b64 %rd<3>;
                ld.param.u64 %rd0, [index];
                mov.u64 %rd1, frame;
                add.s64 %rd1, %rd1, %rd0;
                st.local.u32 [%rd1], 5; // fault
                ld.param.u32 %v, [index+12]; // param
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var output = gpu.Memory.Allocate(4, "out");
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 2), output, 16ul));
        Expect(error, SanitizerRule.OutOfBounds, "frames", FaultLine(ptx), (0, 0, 0), (0, 0, 0), 16);
        var param = error.Findings.Where(f => f.Rule == SanitizerRule.OutOfBounds && f.Line == FaultLine(ptx, "// param")).ToList();
        Assert.That(param, Has.Count.EqualTo(1), "a load past the 16 parameter bytes");
        Assert.That(param[0].Address, Is.EqualTo(20ul));

        var below = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 2), output, unchecked((ulong)-4L)));
        Expect(below, SanitizerRule.OutOfBounds, "frames", FaultLine(ptx), (0, 0, 0), (0, 0, 0), unchecked((ulong)-4L));
    }

    [Test]
    public void MisalignedAccessesAreCaught([Values] bool counters)
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry misaligned(.param .u64 data)
            {
                .shared .align 16 .b8 tile[64];
                .reg .b32 %v<4>, %s;
                .reg .b64 %rd<2>;
                ld.param.u64 %rd0, [data];
                ld.global.u32 %v0, [%rd0+2]; // fault
                ld.global.v4.u32 {%v0, %v1, %v2, %v3}, [%rd0+8]; // vector
                mov.u32 %s, tile;
                st.shared.u64 [%s+4], %rd0; // shared
                ret;
            }
            """;
        using var gpu = new EmulatedGpu(new EmulatorOptions { Counters = counters });
        var data = PtxTestKernels.Upload<uint>(gpu, new uint[16], "data");
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 1), data));
        Expect(error, SanitizerRule.Misaligned, "misaligned", FaultLine(ptx), (0, 0, 0), (0, 0, 0), data.Start + 2);
        var lines = error.Findings.Where(f => f.Rule == SanitizerRule.Misaligned).Select(f => f.Line).ToList();
        Assert.That(lines, Is.EquivalentTo(new[] { FaultLine(ptx), FaultLine(ptx, "// vector"), FaultLine(ptx, "// shared") }));
    }

    /// <summary>Thread <paramref name="first"/> accesses word 0 of shared memory, then (after <paramref name="sync"/>)
    /// thread <paramref name="second"/> does; both words were initialised behind a barrier first.</summary>
    private static string RaceKernel(string firstAccess, string secondAccess, int first, int second, string sync) => PtxTestKernels.Header + $$"""
        .visible .entry race(.param .u64 out)
        {
            .shared .align 4 .b32 cell[1];
            .reg .pred %isFirst, %isSecond;
            .reg .b32 %tid, %v, %s;
            .reg .b64 %rd<2>;
            mov.u32 %tid, %tid.x;
            mov.u32 %s, cell;
            mov.u32 %v, 0;
            setp.eq.u32 %isFirst, %tid, {{first}};
            setp.eq.u32 %isSecond, %tid, {{second}};
            @%isFirst st.shared.u32 [%s], %v;
            bar.sync 0;
            @%isFirst {{firstAccess}}; // first
            {{sync}}
            @%isSecond {{secondAccess}}; // fault
            @%isSecond ld.param.u64 %rd0, [out];
            @%isSecond st.global.u32 [%rd0], %v;
            ret;
        }
        """;

    private const string Write = "st.shared.u32 [%s], %tid";
    private const string Read = "ld.shared.u32 %v, [%s]";

    [TestCase("read-after-write", Write, Read, 32)]
    [TestCase("write-after-read", Read, Write, 32)]
    [TestCase("write-after-write", Write, Write, 32)]
    [TestCase("read-after-write", Write, Read, 1)]
    [TestCase("write-after-read", Read, Write, 1)]
    public void SharedRacesWithinABarrierIntervalAreCaught(string hazard, string firstAccess, string secondAccess, int second)
    {
        string ptx = RaceKernel(firstAccess, secondAccess, 0, second, sync: "");
        // Counters select the interpreter's memory path (inlined without, Resolve with): cover both.
        using var gpu = new EmulatedGpu(new EmulatorOptions { Counters = second == 1 });
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 64), gpu.Memory.Allocate(4, "out")));
        var finding = Expect(error, SanitizerRule.SharedRace, "race", FaultLine(ptx), (second, 0, 0), (0, 0, 0), SharedWindow);
        Assert.That(finding.Detail, Does.Contain(hazard));
        Assert.That(error.Findings, Has.Count.EqualTo(1));
    }

    [TestCase(Write, Read, 32, "bar.sync 0;")]
    [TestCase(Read, Write, 32, "bar.sync 0;")]
    [TestCase(Write, Write, 32, "barrier.sync 0;")]
    [TestCase(Write, Read, 1, "bar.sync 0;")]
    [TestCase(Write, Read, 1, "bar.warp.sync -1;")]
    [TestCase(Read, Write, 1, "bar.warp.sync -1;")]
    [TestCase(Write, Write, 1, "bar.warp.sync -1;")]
    public void TheSamePatternWithABarrierIsClean(string firstAccess, string secondAccess, int second, string sync)
    {
        string ptx = RaceKernel(firstAccess, secondAccess, 0, second, sync);
        using var gpu = new EmulatedGpu();
        var result = PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 64), gpu.Memory.Allocate(4, "out"));
        Assert.That(result.Findings, Is.Empty);
    }

    [Test]
    public void AWarpBarrierDoesNotOrderDifferentWarps()
    {
        string ptx = RaceKernel(Write, Read, 0, 32, "bar.warp.sync -1;");
        using var gpu = new EmulatedGpu();
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 64), gpu.Memory.Allocate(4, "out")));
        Expect(error, SanitizerRule.SharedRace, "race", FaultLine(ptx), (32, 0, 0), (0, 0, 0), SharedWindow);
    }

    private const string CrossBlock = """
        .visible .entry cross_block(.param .u64 data, .param .u32 target)
        {
            .reg .pred %leader, %second;
            .reg .b32 %tid, %cta, %i, %v;
            .reg .b64 %rd<3>;
            mov.u32 %tid, %tid.x;
            mov.u32 %cta, %ctaid.x;
            setp.eq.u32 %leader, %tid, 0;
            setp.ne.u32 %second, %cta, 0;
            ld.param.u64 %rd0, [data];
            ld.param.u32 %i, [target];
            @%second mov.u32 %i, 0;
            mul.wide.u32 %rd1, %i, 4;
            add.s64 %rd2, %rd0, %rd1;
            @!%leader bra DONE;
            @%second ld.global.u32 %v, [%rd2]; // read
            @!%second st.global.u32 [%rd2], %cta; // first
            @%second st.global.u32 [%rd2], %cta; // fault
        DONE:
            ret;
        }
        """;

    [Test]
    public void GlobalRacesBetweenBlocksAreCaught()
    {
        // Block 0 writes word 0; block 1 reads it, then writes it: read-after-write and write-after-write across blocks.
        string ptx = PtxTestKernels.Header + CrossBlock;
        using var gpu = new EmulatedGpu();
        var data = PtxTestKernels.Upload<uint>(gpu, new uint[4], "data");
        var guard = Guard(gpu);
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(2, 32), data, 0));
        var read = Expect(error, SanitizerRule.GlobalRace, "cross_block", FaultLine(ptx, "// read"), (0, 0, 0), (1, 0, 0), data.Start);
        Assert.That(read.Detail, Does.Contain("read-after-write"));
        var write = error.Findings.Single(f => f.Rule == SanitizerRule.GlobalRace && f.Line == FaultLine(ptx));
        Assert.That(write.Detail, Does.Contain("write-after-write"));
        Assert.That(write.Block, Is.EqualTo((1, 0, 0)));
        AssertGuardIntact(gpu, guard);

        // Block 0 writing word 2 while block 1 works on word 0 is clean.
        var clean = PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(2, 32), data, 2);
        Assert.That(clean.Findings, Is.Empty);
    }

    /// <summary>Strong accesses between blocks (the last-block pattern reads other blocks' results with them) are not
    /// races; a CTA-scoped or weak access is still one.</summary>
    [TestCase("volatile.global", "volatile.global", false)]
    [TestCase("relaxed.gpu.global", "relaxed.gpu.global", false)]
    [TestCase("acquire.gpu.global", "release.sys.global", false)]
    [TestCase("relaxed.cta.global", "relaxed.cta.global", true)]
    [TestCase("global", "volatile.global", true)]
    public void StrongAccessesBetweenBlocksAreNotRaces(string load, string store, bool race)
    {
        string ptx = PtxTestKernels.Header + CrossBlock.Replace("ld.global.u32", $"ld.{load}.u32").Replace("st.global.u32", $"st.{store}.u32");
        using var gpu = new EmulatedGpu();
        var data = PtxTestKernels.Upload<uint>(gpu, new uint[4], "data");
        if (race)
        {
            var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(2, 32), data, 0));
            Assert.That(error.Findings.Any(f => f.Rule == SanitizerRule.GlobalRace), Is.True);
            return;
        }

        Assert.That(PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(2, 32), data, 0).Findings, Is.Empty);
        Assert.That(PtxTestKernels.Download<uint>(gpu, data, 1)[0], Is.EqualTo(1u), "block 1 wrote last");
    }

    [Test]
    public void AtomicsFromSeveralBlocksAreNotRaces()
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry count(.param .u64 counter)
            {
                .reg .b64 %rd0;
                ld.param.u64 %rd0, [counter];
                red.global.add.u32 [%rd0], 1;
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var counter = PtxTestKernels.Upload<uint>(gpu, [0u], "counter");
        Assert.That(PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(4, 64), counter).Findings, Is.Empty);
        Assert.That(PtxTestKernels.Download<uint>(gpu, counter, 1)[0], Is.EqualTo(256u));
    }

    [Test]
    public void WritingMemoryAnotherThreadReadThroughTheNonCoherentPathIsCaught()
    {
        // Thread t reads word t through the read-only path, then writes word t + 1, which thread t + 1 read that way.
        string ptx = PtxTestKernels.Header + """
            .visible .entry shifted(.param .u64 data)
            {
                .reg .b32 %tid, %v;
                .reg .b64 %rd<3>;
                mov.u32 %tid, %tid.x;
                ld.param.u64 %rd0, [data];
                mul.wide.u32 %rd1, %tid, 4;
                add.s64 %rd2, %rd0, %rd1;
                ld.global.nc.u32 %v, [%rd2];
                add.s32 %v, %v, 1;
                st.global.u32 [%rd2+4], %v; // fault
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var data = PtxTestKernels.Upload<uint>(gpu, new uint[33], "data");
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 32), data));
        Expect(error, SanitizerRule.NonCoherentWrite, "shifted", FaultLine(ptx), (0, 0, 0), (0, 0, 0), data.Start + 4);

        // The same kernel reading through ld.global (coherent) is fine.
        var coherent = PtxTestKernels.Launch(gpu, ptx.Replace("ld.global.nc.u32", "ld.global.u32"), new LaunchGeometry(1, 32), data);
        Assert.That(coherent.Findings, Is.Empty);
    }

    private const string ReadAll = """
        .visible .entry read_all(.param .u64 data, .param .u64 out)
        {
            .reg .b32 %tid, %v;
            .reg .b64 %rd<4>;
            mov.u32 %tid, %tid.x;
            ld.param.u64 %rd0, [data];
            ld.param.u64 %rd3, [out];
            mul.wide.u32 %rd1, %tid, 4;
            add.s64 %rd2, %rd0, %rd1;
            ld.global.u32 %v, [%rd2]; // fault
            add.s64 %rd3, %rd3, %rd1;
            st.global.u32 [%rd3], %v;
            ret;
        }
        """;

    [Test]
    public void ReadingUninitialisedDeviceMemoryIsCaught([Values] bool counters)
    {
        string ptx = PtxTestKernels.Header + ReadAll;
        using var gpu = new EmulatedGpu(new EmulatorOptions { Counters = counters });
        var data = gpu.Memory.Allocate(32 * 4, "workspace");
        gpu.Memory.Write(data.Start, MemoryMarshal.AsBytes(new uint[16].AsSpan()), "first half");
        var output = gpu.Memory.Allocate(32 * 4, "out");
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 32), data, output));
        var finding = Expect(error, SanitizerRule.UninitialisedRead, "read_all", FaultLine(ptx), (16, 0, 0), (0, 0, 0), data.Start + 64);
        Assert.That(finding.Detail, Does.Contain("workspace"));
        Assert.That(finding.Count, Is.EqualTo(16), "one per thread reading the unwritten half");

        gpu.Memory.Fill(data.Start, 0, 4, 32, "memset");
        Assert.That(PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 32), data, output).Findings, Is.Empty, "after a memset every byte is initialised");
    }

    [Test]
    public void ReadingUninitialisedSharedMemoryIsCaught([Values] bool counters)
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry shared_garbage(.param .u64 out)
            {
                .shared .align 4 .b32 tile[64];
                .reg .b32 %tid, %addr, %v;
                .reg .b64 %rd<2>;
                mov.u32 %tid, %tid.x;
                shl.b32 %addr, %tid, 2;
                st.shared.u32 [%addr+128], %tid;
                bar.sync 0;
                ld.shared.u32 %v, [%addr]; // fault
                ld.param.u64 %rd0, [out];
                mul.wide.u32 %rd1, %tid, 4;
                add.s64 %rd0, %rd0, %rd1;
                st.global.u32 [%rd0], %v;
                ret;
            }
            """;
        using var gpu = new EmulatedGpu(new EmulatorOptions { Counters = counters });
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 32), gpu.Memory.Allocate(128, "out")));
        Expect(error, SanitizerRule.UninitialisedRead, "shared_garbage", FaultLine(ptx), (0, 0, 0), (0, 0, 0), SharedWindow);
    }

    [Test]
    public void AWarpSplitAcrossTwoBarrierInstructionsIsBarrierDivergence()
    {
        // bar.sync is .aligned: lanes 16-31 wait at one bar.sync, lanes 0-15 at another with the same id.
        string ptx = PtxTestKernels.Header + """
            .visible .entry split_barrier(.param .u64 out)
            {
                .reg .pred %low;
                .reg .b32 %tid;
                mov.u32 %tid, %tid.x;
                setp.lt.u32 %low, %tid, 16;
                @%low bra OTHER;
                bar.sync 0; // fault
                bra.uni DONE;
            OTHER:
                bar.sync 0;
            DONE:
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 32), gpu.Memory.Allocate(4, "out")));
        Expect(error, SanitizerRule.BarrierDivergence, "split_barrier", FaultLine(ptx), (16, 0, 0), (0, 0, 0));
    }

    [Test]
    public void WarpsAtDifferentBarriersAreBarrierDivergence()
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry two_barriers(.param .u64 out)
            {
                .reg .pred %second;
                .reg .b32 %tid;
                mov.u32 %tid, %tid.x;
                setp.ge.u32 %second, %tid, 32;
                @%second bra OTHER;
                bar.sync 0;
                bra.uni DONE;
            OTHER:
                bar.sync 1; // fault
            DONE:
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 64), gpu.Memory.Allocate(4, "out")));
        var finding = Expect(error, SanitizerRule.BarrierDivergence, "two_barriers", FaultLine(ptx), (32, 0, 0), (0, 0, 0));
        Assert.That(finding.Detail, Does.Contain("different barriers"));
    }

    [Test]
    public void ACollectiveWaitingOnThreadsAtABarrierIsADeadlock()
    {
        // Warp 1: lanes 0-15 wait at bar.sync, lanes 16-31 wait in a full-warp shuffle for them: nobody can move.
        string ptx = PtxTestKernels.Header + """
            .visible .entry stuck(.param .u64 out)
            {
                .reg .pred %upper;
                .reg .b32 %tid, %lane, %v;
                mov.u32 %tid, %tid.x;
                mov.u32 %lane, %laneid;
                setp.ge.u32 %upper, %tid, 48;
                @%upper bra SHUFFLE;
                bar.sync 0;
                bra.uni DONE;
            SHUFFLE:
                shfl.sync.bfly.b32 %v, %tid, 1, 31, -1; // fault
            DONE:
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 64), gpu.Memory.Allocate(4, "out")));
        Expect(error, SanitizerRule.Deadlock, "stuck", FaultLine(ptx), (48, 0, 0), (0, 0, 0));
    }

    [Test]
    public void AnEndlessLoopIsStoppedAsAHang()
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry spin(.param .u64 out)
            {
            LOOP:
                bra.uni LOOP; // fault
            }
            """;
        using var gpu = new EmulatedGpu(new EmulatorOptions { MaxWarpInstructions = 100_000 });
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 32), gpu.Memory.Allocate(4, "out")));
        var finding = Expect(error, SanitizerRule.Deadlock, "spin", FaultLine(ptx), (0, 0, 0), (0, 0, 0));
        Assert.That(finding.Detail, Does.Contain("100000"));
    }

    private static string ShuffleKernel(string guardSetup, string shuffle, string after = "") => PtxTestKernels.Header + $$"""
        .visible .entry partial(.param .u64 out)
        {
            .reg .pred %away;
            .reg .b32 %tid, %v;
            mov.u32 %tid, %tid.x;
            {{guardSetup}}
            {{shuffle}} // fault
        {{after}}
            ret;
        }
        """;

    [Test]
    public void AMemberMaskNamingExitedLanesIsAWarpSyncMismatch()
    {
        string ptx = ShuffleKernel("setp.ge.u32 %away, %tid, 16;\n    @%away exit;", "shfl.sync.bfly.b32 %v, %tid, 1, 31, -1;");
        using var gpu = new EmulatedGpu();
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 32), gpu.Memory.Allocate(4, "out")));
        var finding = Expect(error, SanitizerRule.WarpSyncMismatch, "partial", FaultLine(ptx), (0, 0, 0), (0, 0, 0));
        Assert.That(finding.Detail, Does.Contain("exited"));

        string warpBarrier = ShuffleKernel("setp.ge.u32 %away, %tid, 16;\n    @%away exit;", "bar.warp.sync -1;");
        var barrierError = Faults(() => PtxTestKernels.Launch(gpu, warpBarrier, new LaunchGeometry(1, 32), gpu.Memory.Allocate(4, "out")));
        Expect(barrierError, SanitizerRule.WarpSyncMismatch, "partial", FaultLine(warpBarrier), (0, 0, 0), (0, 0, 0));
    }

    [Test]
    public void AMemberMaskNamingLanesThatExitLaterIsAWarpSyncMismatchNotADeadlock()
    {
        // Lanes 0-15 reach the shuffle first and wait for lanes 16-31, which then exit instead of joining.
        string ptx = ShuffleKernel("setp.ge.u32 %away, %tid, 16;\n    @%away bra LEAVE;", "shfl.sync.bfly.b32 %v, %tid, 1, 31, -1;", "LEAVE:");
        using var gpu = new EmulatedGpu();
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 32), gpu.Memory.Allocate(4, "out")));
        var finding = Expect(error, SanitizerRule.WarpSyncMismatch, "partial", FaultLine(ptx), (0, 0, 0), (0, 0, 0));
        Assert.That(finding.Detail, Does.Contain("exited"));
        Assert.That(error.Findings.Select(f => f.Rule), Has.None.EqualTo(SanitizerRule.Deadlock));
    }

    [Test]
    public void AShuffleReadingALaneOutsideItsMaskIsAWarpSyncMismatch()
    {
        string ptx = ShuffleKernel("setp.ge.u32 %away, %tid, 16;\n    @%away bra DONE;", "shfl.sync.idx.b32 %v, %tid, 20, 31, 0xFFFF;", "DONE:");
        using var gpu = new EmulatedGpu();
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 32), gpu.Memory.Allocate(4, "out")));
        var finding = Expect(error, SanitizerRule.WarpSyncMismatch, "partial", FaultLine(ptx), (0, 0, 0), (0, 0, 0));
        Assert.That(finding.Detail, Does.Contain("lane 20"));
    }

    [Test]
    public void LanesOutsideTheMemberMaskExecutingACollectiveAreAWarpSyncMismatch()
    {
        string ptx = ShuffleKernel("", "shfl.sync.bfly.b32 %v, %tid, 1, 31, 0xFFFF;");
        using var gpu = new EmulatedGpu();
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 32), gpu.Memory.Allocate(4, "out")));
        var finding = Expect(error, SanitizerRule.WarpSyncMismatch, "partial", FaultLine(ptx), (0, 0, 0), (0, 0, 0));
        Assert.That(finding.Detail, Does.Contain("0xFFFF0000"));

        string guarded = ShuffleKernel("setp.eq.u32 %away, %tid, 3;", "@!%away vote.sync.ballot.b32 %v, %away, -1;");
        var guardError = Faults(() => PtxTestKernels.Launch(gpu, guarded, new LaunchGeometry(1, 32), gpu.Memory.Allocate(4, "out")));
        var skipped = Expect(guardError, SanitizerRule.WarpSyncMismatch, "partial", FaultLine(guarded), (0, 0, 0), (0, 0, 0));
        Assert.That(skipped.Detail, Does.Contain("0x00000008"));
    }

    [Test]
    public void TrapStopsTheLaunchAndNamesTheThread()
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry trapper(.param .u64 data)
            {
                .reg .pred %bad;
                .reg .b32 %tid;
                .reg .b64 %rd<3>;
                mov.u32 %tid, %tid.x;
                ld.param.u64 %rd0, [data];
                mul.wide.u32 %rd1, %tid, 4;
                add.s64 %rd2, %rd0, %rd1;
                st.global.u32 [%rd2], %tid;
                setp.eq.u32 %bad, %tid, 5;
                @%bad trap; // fault
                st.global.u32 [%rd2], 99;
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var data = PtxTestKernels.Upload<uint>(gpu, new uint[32], "data");
        var guard = Guard(gpu);
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(4, 32), data));
        Expect(error, SanitizerRule.Trap, "trapper", FaultLine(ptx), (5, 0, 0), (0, 0, 0));
        Assert.That(PtxTestKernels.Download<uint>(gpu, data, 32), Is.EqualTo(Enumerable.Range(0, 32).Select(i => (uint)i).ToArray()),
            "stores before the trap stay written; nothing after it runs");
        AssertGuardIntact(gpu, guard);
    }

    [Test]
    public void ALaunchStopsAtItsFindingLimit()
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry many(.param .u64 data)
            {
                .reg .b64 %rd0;
                ld.param.u64 %rd0, [data];
                st.global.u32 [%rd0+64], 1;
                st.global.u32 [%rd0+68], 2;
                st.global.u32 [%rd0+72], 3;
                st.global.u32 [%rd0+76], 4;
                st.global.u32 [%rd0], 5;
                ret;
            }
            """;
        using var gpu = new EmulatedGpu(new EmulatorOptions { MaxFindings = 2 });
        var data = PtxTestKernels.Upload<uint>(gpu, new uint[16], "data");
        var error = Faults(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 1), data));
        Assert.That(error.Findings, Has.Count.EqualTo(2));
        Assert.That(PtxTestKernels.Download<uint>(gpu, data, 1)[0], Is.Zero, "the launch stopped at the second finding");
    }

    [Test]
    public void WithTheSanitizerOffBoundsAreStillCheckedButRacesAreNot()
    {
        var off = new EmulatorOptions { Sanitize = false };
        using var gpu = new EmulatedGpu(off);
        string outOfBounds = PtxTestKernels.Header + StoreIndexed;
        var data = PtxTestKernels.Upload<uint>(gpu, new uint[40], "data");
        var guard = Guard(gpu);
        var error = Faults(() => PtxTestKernels.Launch(gpu, outOfBounds, new LaunchGeometry(2, 32), data));
        Expect(error, SanitizerRule.OutOfBounds, "store_indexed", FaultLine(outOfBounds), (8, 0, 0), (1, 0, 0), data.Start + 160);
        AssertGuardIntact(gpu, guard);

        string sharedRace = RaceKernel(Write, Read, 0, 32, sync: "");
        Assert.That(PtxTestKernels.Launch(gpu, sharedRace, new LaunchGeometry(1, 64), gpu.Memory.Allocate(4, "out")).Findings, Is.Empty);
        string globalRace = PtxTestKernels.Header + CrossBlock;
        Assert.That(PtxTestKernels.Launch(gpu, globalRace, new LaunchGeometry(2, 32), data, 0).Findings, Is.Empty);
        string uninitialised = PtxTestKernels.Header + ReadAll;
        Assert.That(PtxTestKernels.Launch(gpu, uninitialised, new LaunchGeometry(1, 32), gpu.Memory.Allocate(128, "fresh"), gpu.Memory.Allocate(128, "out")).Findings,
            Is.Empty);
    }
}
