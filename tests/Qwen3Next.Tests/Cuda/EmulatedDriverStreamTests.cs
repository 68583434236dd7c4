using NUnit.Framework;
using Qwen3Next.Cuda;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Sanitizer;

namespace Qwen3Next.Tests.Cuda;

/// <summary>
/// Streams and events on the emulated driver: work waits in its stream until the host needs it, so a kernel on one
/// stream that reads what a copy on another stream writes sees the copy only when an event orders them — as on a GPU,
/// where nothing else does. Without the event the kernel reads memory nothing wrote, and the sanitizer says so.
/// </summary>
public sealed unsafe class EmulatedDriverStreamTests
{
    private const string Ptx = """
        .version 7.8
        .target sm_90
        .address_size 64
        .visible .entry twice(.param .u64 y, .param .u64 x)
        {
            .reg .b32 %r<2>;
            .reg .f32 %f<2>;
            .reg .b64 %rd<6>;
            ld.param.u64 %rd0, [y];
            ld.param.u64 %rd1, [x];
            mov.u32 %r0, %tid.x;
            mul.wide.u32 %rd2, %r0, 4;
            add.s64 %rd3, %rd1, %rd2;
            add.s64 %rd4, %rd0, %rd2;
            ld.global.f32 %f0, [%rd3];
            add.f32 %f1, %f0, %f0;
            st.global.f32 [%rd4], %f1;
            ret;
        }
        """;

    private EmulatedCudaDriver driver = null!;
    private StreamHandle compute, copy;
    private DevicePointer x, y;
    private IntPtr pinned;
    private FunctionHandle twice;

    [SetUp]
    public void Create()
    {
        driver = new EmulatedCudaDriver(new EmulatedGpu());
        compute = driver.CreateStream(nonBlocking: true, "compute");
        copy = driver.CreateStream(nonBlocking: true, "copy");
        x = driver.Allocate(32 * sizeof(float), "x");
        y = driver.Allocate(32 * sizeof(float), "y");
        pinned = driver.AllocateHost(32 * sizeof(float), mapped: false, "staging");
        new Span<float>((void*)pinned, 32).Fill(21f);
        twice = driver.GetFunction(driver.LoadModule("test/twice.ptx", Ptx), "twice", "kernel 'twice'");
    }

    [TearDown]
    public void Dispose() => driver.Dispose();

    private void CopyThenCompute(bool orderedByEvent)
    {
        driver.CopyHostToDeviceAsync(x, (void*)pinned, 32 * sizeof(float), copy, "upload x");
        if (orderedByEvent)
        {
            var uploaded = driver.CreateEvent(timing: false, "uploaded");
            driver.RecordEvent(uploaded, copy, "uploaded");
            driver.StreamWaitEvent(compute, uploaded, "uploaded");
        }

        var arguments = new KernelArguments().Add(new DeviceSpan<float>(y, 32)).Add(new DeviceSpan<float>(x, 32));
        driver.Launch(twice, new LaunchConfig(1, 32), arguments, compute, "kernel 'twice'");
    }

    [Test]
    public void AnEventOrdersACopyOnOneStreamBeforeAKernelOnAnother()
    {
        CopyThenCompute(orderedByEvent: true);
        driver.SynchronizeStream(compute, "compute");
        var result = new float[32];
        fixed (float* host = result)
        {
            driver.CopyDeviceToHostAsync(host, y, 32 * sizeof(float), compute, "read y");
        }

        Assert.That(result, Is.All.EqualTo(42f));
    }

    [Test]
    public void WithoutTheEventTheKernelRunsBeforeTheCopyAndReadsUninitialisedMemory()
    {
        CopyThenCompute(orderedByEvent: false);
        var fault = Assert.Throws<PtxKernelFaultException>(() => driver.SynchronizeStream(compute, "compute"));
        Assert.That(fault!.Findings.Select(f => f.Rule), Has.Member(SanitizerRule.UninitialisedRead));
    }

    [Test]
    public void WorkWaitsInItsStreamUntilTheHostNeedsIt()
    {
        driver.CopyHostToDeviceAsync(x, (void*)pinned, 32 * sizeof(float), copy, "upload x");
        new Span<float>((void*)pinned, 32).Fill(5f);
        driver.SynchronizeStream(copy, "copy");
        var result = new float[32];
        fixed (float* host = result)
        {
            driver.CopyDeviceToHostAsync(host, x, 32 * sizeof(float), copy, "read x");
        }

        // From page-locked memory the copy reads the source when the stream reaches it, so the later write shows —
        // a real race on a GPU too: the host must not touch page-locked memory before the copy has run.
        Assert.That(result, Is.All.EqualTo(5f));
    }
}
