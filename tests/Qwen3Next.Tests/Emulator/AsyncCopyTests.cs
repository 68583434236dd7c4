using NUnit.Framework;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;
using Qwen3Next.PtxEmulator.Sanitizer;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// cp.async (PTX ISA §9.7.9.25): the copied bytes, zero-fill past src-size, commit groups and wait_group N, and the
/// sanitizer's view of the copy as a write that happens between the issue and the issuing thread's wait: any access
/// to the destination in between is an <see cref="SanitizerRule.AsyncHazard"/>, and another thread needs a barrier
/// after the wait. Expected values are computed here from the inputs, independently of the emulator.
/// </summary>
[TestFixture]
public sealed class AsyncCopyTests
{
    // Thread t copies 16 bytes of src[t] into buf[t] (odd threads with src-size 8: the upper 8 bytes zero-filled),
    // then after the wait and a barrier writes buf[(t + 1) % 64] to out[t].
    private const string Rotate = """
        .visible .entry rotate(.param .u64 src, .param .u64 out)
        {
            .reg .b32 %tid, %next, %dst, %size, %at, %v<4>;
            .reg .b64 %rd<6>;
            .shared .align 16 .b8 buf[1024];
            mov.u32 %tid, %tid.x;
            ld.param.u64 %rd0, [src];
            mul.wide.u32 %rd1, %tid, 16;
            add.s64 %rd2, %rd0, %rd1;
            mov.u32 %dst, buf;
            mad.lo.u32 %dst, %tid, 16, %dst;
            and.b32 %size, %tid, 1;
            mul.lo.u32 %size, %size, 8;
            sub.u32 %size, 16, %size;
            cp.async.cg.shared.global [%dst], [%rd2], 16, %size;
            cp.async.commit_group;
            cp.async.wait_group 0;
            bar.sync 0;
            add.u32 %next, %tid, 1;
            and.b32 %next, %next, 63;
            mov.u32 %at, buf;
            mad.lo.u32 %at, %next, 16, %at;
            ld.shared.v4.u32 {%v0, %v1, %v2, %v3}, [%at];
            ld.param.u64 %rd3, [out];
            add.s64 %rd4, %rd3, %rd1;
            st.global.v4.u32 [%rd4], {%v0, %v1, %v2, %v3};
            ret;
        }
        """;

    [Test]
    public void CopiesLandAtTheWaitWithZeroFillPastSrcSize([Values] bool counters)
    {
        var src = Enumerable.Range(0, 64 * 4).Select(i => (uint)(0x1000_0000 + (i * 7919))).ToArray();
        using var gpu = new EmulatedGpu(new EmulatorOptions { Counters = counters });
        var input = PtxTestKernels.Upload<uint>(gpu, src, "src");
        var output = gpu.Memory.Allocate(64 * 16, "out");
        var result = PtxTestKernels.Launch(gpu, PtxTestKernels.Header + Rotate, new LaunchGeometry(1, 64), input, output);
        var got = PtxTestKernels.Download<uint>(gpu, output, 64 * 4);
        for (int t = 0; t < 64; t++)
        {
            int from = (t + 1) % 64;
            for (int w = 0; w < 4; w++)
            {
                uint expected = from % 2 == 1 && w >= 2 ? 0u : src[(from * 4) + w];
                Assert.That(got[(t * 4) + w], Is.EqualTo(expected), $"out[{t}] word {w} (from thread {from})");
            }
        }

        if (counters)
        {
            // Two warps: one cp.async request each, 16 bytes per lane (odd lanes read 8): 512 bytes and 16 sectors per warp.
            var c = result.Counters!;
            Assert.That(c.Count(PtxEmulator.Decoding.Op.CpAsync), Is.EqualTo(2));
            Assert.That(c.GlobalLoadRequests, Is.EqualTo(2), "one global request per warp's cp.async (ld.shared is not global)");
            Assert.That(c.GlobalLoadBytesRequested, Is.EqualTo(64 * 16));
            Assert.That(c.SharedStoreRequests, Is.EqualTo(2));
        }
    }

    // Thread 0 copies src[0] into buf0 (group 0) and src[1] into buf1 (group 1); wait_group 1 completes only group 0.
    private const string Groups = """
        .visible .entry groups(.param .u64 src, .param .u64 out)
        {
            .reg .b32 %b0, %b1, %v<2>;
            .reg .b64 %rd<4>;
            .shared .align 16 .b8 buf0[16];
            .shared .align 16 .b8 buf1[16];
            ld.param.u64 %rd0, [src];
            ld.param.u64 %rd1, [out];
            mov.u32 %b0, buf0;
            mov.u32 %b1, buf1;
            cp.async.ca.shared.global [%b0], [%rd0], 4;
            cp.async.commit_group;
            cp.async.ca.shared.global [%b1], [%rd0+4], 4;
            cp.async.commit_group;
            cp.async.wait_group 1;
            ld.shared.u32 %v0, [%b0];
            st.global.u32 [%rd1], %v0;
            READ_EARLY
            cp.async.wait_all;
            ld.shared.u32 %v1, [%b1];
            st.global.u32 [%rd1+4], %v1;
            ret;
        }
        """;

    [Test]
    public void WaitGroupKeepsTheNewestGroupsInFlight()
    {
        using var gpu = new EmulatedGpu();
        var input = PtxTestKernels.Upload<uint>(gpu, [11u, 22u], "src");
        var output = gpu.Memory.Allocate(8, "out");
        PtxTestKernels.Launch(gpu, PtxTestKernels.Header + Groups.Replace("READ_EARLY", ""), new LaunchGeometry(1, 1), input, output);
        Assert.That(PtxTestKernels.Download<uint>(gpu, output, 2), Is.EqualTo(new[] { 11u, 22u }));
    }

    [Test]
    public void ReadingADestinationBeforeItsWaitIsAHazardAndSeesTheOldBytes()
    {
        string ptx = PtxTestKernels.Header + Groups.Replace("READ_EARLY", "ld.shared.u32 %v1, [%b1]; // fault\n            st.global.u32 [%rd1+4], %v1;");
        using (var gpu = new EmulatedGpu())
        {
            var input = PtxTestKernels.Upload<uint>(gpu, [11u, 22u], "src");
            var output = gpu.Memory.Allocate(8, "out");
            var error = Assert.Throws<PtxKernelFaultException>(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 1), input, output))!;
            var finding = error.Findings.Single(f => f.Rule == SanitizerRule.AsyncHazard);
            Assert.That(finding.Line, Is.EqualTo(LineOf(ptx, "// fault")), finding.ToString());
            Assert.That(finding.Detail, Does.Contain("cp.async"));
        }

        // Without the sanitizer the kernel runs: the early read sees shared memory as it was (poison), not the copy.
        using (var gpu = new EmulatedGpu(new EmulatorOptions { Sanitize = false }))
        {
            var input = PtxTestKernels.Upload<uint>(gpu, [11u, 22u], "src");
            var output = gpu.Memory.Allocate(8, "out");
            ptx = PtxTestKernels.Header + Groups.Replace("READ_EARLY", "ld.shared.u32 %v1, [%b1];\n            st.global.u32 [%rd1+4], %v1;\n            ret;");
            PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 1), input, output);
            Assert.That(PtxTestKernels.Download<uint>(gpu, output, 2), Is.EqualTo(new[] { 11u, 0xFFFF_FFFFu }));
        }
    }

    // Thread 0 copies into buf and waits; thread 32 (another warp) reads buf with no barrier after the wait.
    private const string NoBarrier = """
        .visible .entry no_barrier(.param .u64 src, .param .u64 out)
        {
            .reg .b32 %tid, %b, %v;
            .reg .b64 %rd<2>;
            .reg .pred %p, %q;
            .shared .align 16 .b8 buf[16];
            mov.u32 %tid, %tid.x;
            ld.param.u64 %rd0, [src];
            ld.param.u64 %rd1, [out];
            mov.u32 %b, buf;
            setp.eq.u32 %p, %tid, 0;
            @%p cp.async.ca.shared.global [%b], [%rd0], 4;
            cp.async.wait_all;
            BARRIER
            setp.eq.u32 %q, %tid, 32;
            @%q ld.shared.u32 %v, [%b]; // fault
            @%q st.global.u32 [%rd1], %v;
            ret;
        }
        """;

    [Test]
    public void AnotherThreadNeedsABarrierAfterTheWait()
    {
        string broken = PtxTestKernels.Header + NoBarrier.Replace("BARRIER", "");
        using var gpu = new EmulatedGpu();
        var input = PtxTestKernels.Upload<uint>(gpu, [42u], "src");
        var output = gpu.Memory.Allocate(4, "out");
        var error = Assert.Throws<PtxKernelFaultException>(() => PtxTestKernels.Launch(gpu, broken, new LaunchGeometry(1, 64), input, output))!;
        var race = error.Findings.First(f => f.Rule is SanitizerRule.SharedRace or SanitizerRule.AsyncHazard);
        Assert.That(race.Line, Is.EqualTo(LineOf(broken, "// fault")), race.ToString());

        PtxTestKernels.Launch(gpu, PtxTestKernels.Header + NoBarrier.Replace("BARRIER", "bar.sync 0;"), new LaunchGeometry(1, 64), input, output);
        Assert.That(PtxTestKernels.Download<uint>(gpu, output, 1), Is.EqualTo(new[] { 42u }));
    }

    internal static int LineOf(string ptx, string marker)
        => Array.FindIndex(ptx.Split('\n'), l => l.Contains(marker, StringComparison.Ordinal)) + 1;
}
