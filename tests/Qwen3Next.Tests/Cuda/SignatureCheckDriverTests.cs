using NUnit.Framework;
using Qwen3Next.Cuda;

namespace Qwen3Next.Tests.Cuda;

/// <summary>
/// The host-memory driver: memory operations really move bytes and are bounds-checked before anything is written,
/// every call is counted, launches are checked against the module's <c>.entry</c> and the live allocations, misuse
/// is reported with the CUDA error a GPU would give, and graph capture records work that replay runs again.
/// </summary>
public sealed unsafe class SignatureCheckDriverTests
{
    private const string Ptx = """
        .version 7.8
        .target sm_90
        .address_size 64
        .visible .entry scale_add(
            .param .u64 scale_add_param_0,
            .param .u64 scale_add_param_1,
            .param .f32 scale_add_param_2,
            .param .u32 scale_add_param_3
        )
        { ret; }
        """;

    private SignatureCheckDriver driver = null!;
    private StreamHandle stream;

    [SetUp]
    public void Create()
    {
        driver = new SignatureCheckDriver();
        stream = driver.CreateStream(nonBlocking: true, "the test stream");
    }

    [TearDown]
    public void Dispose() => driver.Dispose();

    private float[] Read(DevicePointer source, int count)
    {
        var result = new float[count];
        fixed (float* host = result)
        {
            driver.CopyDeviceToHostAsync(host, source, count * sizeof(float), stream, "a read");
        }

        return result;
    }

    private void Write(DevicePointer destination, float[] values)
    {
        fixed (float* host = values)
        {
            driver.CopyHostToDeviceAsync(destination, host, values.Length * sizeof(float), stream, "a write");
        }
    }

    private static KernelArguments ScaleAddArguments(DevicePointer y, DevicePointer x)
        => new KernelArguments().Add(new DeviceSpan<float>(y, 1)).Add(new DeviceSpan<float>(x, 1)).Add(2f).Add(64);

    private (FunctionHandle Function, KernelModuleHandle Module) LoadScaleAdd()
    {
        var module = driver.LoadModule("test/scale_add.ptx", Ptx);
        return (driver.GetFunction(module, "scale_add", "kernel 'scale_add'"), module);
    }

    [Test]
    public void AllocationsAreZeroFilledAndCopiesMoveRealBytesInEveryDirection()
    {
        var a = driver.Allocate(64 * sizeof(float), "a");
        var b = driver.Allocate(64 * sizeof(float), "b");
        var values = Enumerable.Range(0, 64).Select(i => i * 0.5f - 3f).ToArray();

        Assert.That(Read(a, 64), Is.All.EqualTo(0f), "fresh memory reads as zeros");
        Write(a, values);
        driver.CopyDeviceToDeviceAsync(b.Offset(4 * sizeof(float)), a, 60 * sizeof(float), stream, "a device copy");
        var back = Read(b, 64);

        Assert.That(back[..4], Is.All.EqualTo(0f));
        Assert.That(back[4..], Is.EqualTo(values[..60]));
        var counters = driver.Counters;
        Assert.That((counters.Allocations, counters.Copies(CopyDirection.HostToDevice), counters.Copies(CopyDirection.DeviceToHost),
            counters.Copies(CopyDirection.DeviceToDevice)), Is.EqualTo((2L, 1L, 2L, 1L)));
        Assert.That(counters.CopiedBytes(CopyDirection.HostToDevice), Is.EqualTo(256));
        Assert.That(counters.CopiedBytes(CopyDirection.DeviceToHost), Is.EqualTo(512));
        Assert.That(counters.CopiedBytes(CopyDirection.DeviceToDevice), Is.EqualTo(240));
        driver.Free(a, "a");
        driver.Free(b, "b");
        Assert.That((driver.Counters.Frees, driver.LiveAllocations), Is.EqualTo((2L, 0)));
    }

    [Test]
    public void MemsetsFillBytesAndWords()
    {
        var p = driver.Allocate(32, "p");
        driver.MemsetD32Async(p, BitConverter.SingleToUInt32Bits(1.5f), 8, stream, "p");
        driver.MemsetD8Async(p.Offset(4), 0, 4, stream, "p");

        Assert.That(Read(p, 8), Is.EqualTo(new[] { 1.5f, 0f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f }));
        Assert.That(driver.Counters.Memsets, Is.EqualTo(2));
        var e = Assert.Throws<CudaDriverException>(() => driver.MemsetD32Async(p.Offset(2), 0, 1, stream, "p"));
        Assert.That(e!.Message, Does.StartWith("cuMemsetD32Async failed for p: CUDA_ERROR_INVALID_VALUE (1): invalid argument").And.Contain("not 4-byte aligned"));
    }

    [Test]
    public void AccessesOutsideAnAllocationAreRefusedBeforeAnythingIsWritten()
    {
        var p = driver.Allocate(64 * sizeof(float), "tensor 'x'");
        var tooMany = Enumerable.Repeat(7f, 65).ToArray();

        var e = Assert.Throws<CudaDriverException>(() => Write(p, tooMany));
        Assert.That(e!.Message, Is.EqualTo(
            $"cuMemcpyHtoDAsync failed for a write: CUDA_ERROR_INVALID_VALUE (1): invalid argument; [{p}, +260 B) is not inside one live device-visible allocation"));
        Assert.That(Read(p, 64), Is.All.EqualTo(0f), "nothing was written half-way");
        Assert.That(() => driver.MemsetD8Async(p.Offset(255), 1, 2, stream, "x"), Throws.TypeOf<CudaDriverException>());
        Assert.That(() => driver.CopyDeviceToDeviceAsync(p, p.Offset(4), 256, stream, "x"), Throws.TypeOf<CudaDriverException>());

        driver.Free(p, "tensor 'x'");
        Assert.That(() => Read(p, 1), Throws.TypeOf<CudaDriverException>().With.Property(nameof(CudaDriverException.Call)).EqualTo("cuMemcpyDtoHAsync"));
        Assert.That(() => driver.Free(p, "tensor 'x'"), Throws.TypeOf<CudaDriverException>().With.Message.Contains("not the start of a live Device allocation"));
    }

    [Test]
    public void LaunchesAreCheckedAgainstTheEntryTheLimitsAndTheSharedMemoryOptIn()
    {
        var (function, _) = LoadScaleAdd();
        var y = driver.Allocate(256, "y");
        var x = driver.Allocate(256, "x");
        var config = new LaunchConfig(2, 128);

        driver.Launch(function, config, ScaleAddArguments(y, x), stream, "kernel 'scale_add'");
        Assert.That(driver.Counters.Launches, Is.EqualTo(1));
        Assert.That(driver.CheckedLaunches["scale_add"], Is.EqualTo(1));

        var wrongKind = new KernelArguments().Add(new DeviceSpan<float>(y, 1)).Add(new DeviceSpan<float>(x, 1)).Add(2).Add(64);
        Assert.That(() => driver.Launch(function, config, wrongKind, stream, "kernel 'scale_add'"),
            Throws.ArgumentException.With.Message.EqualTo("Kernel 'scale_add' parameter 2 is .f32; the launcher passed Int32."));
        Assert.That(() => driver.Launch(function, config, ScaleAddArguments(y, x).Add(1), stream, "k"),
            Throws.ArgumentException.With.Message.Contains("takes 4 parameters"));
        Assert.That(() => driver.Launch(function, new LaunchConfig(1, 2048), ScaleAddArguments(y, x), stream, "k"),
            Throws.ArgumentException.With.Message.Contains("scale_add: block 2048"));

        var big = new LaunchConfig(1, 128, 64 * 1024);
        var e = Assert.Throws<CudaDriverException>(() => driver.Launch(function, big, ScaleAddArguments(y, x), stream, "kernel 'scale_add'"));
        Assert.That(e!.Message, Does.StartWith("cuLaunchKernel failed for kernel 'scale_add': CUDA_ERROR_INVALID_VALUE (1)").And.Contain("allows 49152 B"));
        driver.SetMaxDynamicSharedBytes(function, 64 * 1024, "kernel 'scale_add'");
        Assert.That(() => driver.Launch(function, big, ScaleAddArguments(y, x), stream, "k"), Throws.Nothing);
        Assert.That(driver.Counters.Launches, Is.EqualTo(2), "refused launches are not counted");
    }

    [Test]
    public void ModulesAndFunctionsAreLookedUpByName()
    {
        var (_, module) = LoadScaleAdd();

        var e = Assert.Throws<CudaDriverException>(() => driver.GetFunction(module, "scale_mul", "kernel 'scale_mul'"));
        Assert.That(e!.Message, Is.EqualTo(
            "cuModuleGetFunction failed for kernel 'scale_mul': CUDA_ERROR_NOT_FOUND (500): named symbol not found; test/scale_add.ptx has no .entry 'scale_mul'"));
        driver.UnloadModule(module, "module test/scale_add.ptx");
        Assert.That(() => driver.GetFunction(module, "scale_add", "k"), Throws.TypeOf<CudaDriverException>().With.Property(nameof(CudaDriverException.ErrorName))
            .EqualTo("CUDA_ERROR_INVALID_HANDLE"));
    }

    [Test]
    public void PointerArgumentsMustPointIntoLiveDeviceVisibleMemory()
    {
        var (function, _) = LoadScaleAdd();
        var y = driver.Allocate(256, "y");
        var pinned = driver.AllocateHost(256, mapped: false, "pinned");
        var mapped = driver.AllocateHost(256, mapped: true, "mapped");
        var config = new LaunchConfig(1, 64);

        var e = Assert.Throws<CudaDriverException>(() =>
            driver.Launch(function, config, ScaleAddArguments(y, new DevicePointer((ulong)(long)pinned)), stream, "kernel 'scale_add'"));
        Assert.That(e!.Message, Does.StartWith("cuLaunchKernel failed for kernel 'scale_add': CUDA_ERROR_ILLEGAL_ADDRESS (700)")
            .And.Contain("parameter 1"));
        Assert.That(() => driver.MappedDevicePointer(pinned, "pinned"), Throws.TypeOf<CudaDriverException>());
        var onDevice = driver.MappedDevicePointer(mapped, "mapped");
        Assert.That(() => driver.Launch(function, config, ScaleAddArguments(y, onDevice), stream, "k"), Throws.Nothing);
        Assert.That(() => driver.Launch(function, config, new KernelArguments().Add(new DeviceSpan<float>(y, 1)).AddNull().Add(1f).Add(1), stream, "k"),
            Throws.Nothing, "a null pointer is the kernel's business (optional arguments)");

        driver.Free(y, "y");
        Assert.That(() => driver.Launch(function, config, ScaleAddArguments(y, onDevice), stream, "k"),
            Throws.TypeOf<CudaDriverException>().With.Message.Contains("parameter 0"));
        driver.FreeHost(pinned, "pinned");
        driver.FreeHost(mapped, "mapped");
        Assert.That(driver.Counters.HostAllocations, Is.EqualTo(2));
    }

    [Test]
    public void StreamsAndEventsAreCheckedAndSynchronisationIsCounted()
    {
        var start = driver.CreateEvent(timing: true, "start");
        var end = driver.CreateEvent(timing: true, "end");
        var untimed = driver.CreateEvent(timing: false, "untimed");

        Assert.That(() => driver.ElapsedMilliseconds(start, end, "timing"), Throws.TypeOf<CudaDriverException>().With.Message.Contains("has not been recorded"));
        driver.RecordEvent(start, stream, "start");
        driver.RecordEvent(end, stream, "end");
        driver.RecordEvent(untimed, stream, "untimed");
        driver.StreamWaitEvent(stream, untimed, "the hand-off");
        driver.SynchronizeEvent(end, "end");
        driver.SynchronizeStream(stream, "the test stream");

        Assert.That(driver.ElapsedMilliseconds(start, end, "timing"), Is.GreaterThanOrEqualTo(0f));
        Assert.That(() => driver.ElapsedMilliseconds(start, untimed, "timing"), Throws.TypeOf<CudaDriverException>().With.Message.Contains("without timing"));
        Assert.That(driver.Counters.HostSynchronizations, Is.EqualTo(2));

        driver.DestroyEvent(untimed, "untimed");
        Assert.That(() => driver.RecordEvent(untimed, stream, "untimed"), Throws.TypeOf<CudaDriverException>().With.Property(nameof(CudaDriverException.ErrorCode)).EqualTo(400));
        driver.DestroyStream(stream, "the test stream");
        var p = driver.Allocate(4, "p");
        Assert.That(() => driver.MemsetD8Async(p, 0, 4, stream, "p"), Throws.TypeOf<CudaDriverException>().With.Message.Contains("CUDA_ERROR_INVALID_HANDLE"));
    }

    [Test]
    public void ACapturedGraphRunsNothingUntilLaunchedAndReplaysWithTodaysHostData()
    {
        var (function, _) = LoadScaleAdd();
        var device = driver.Allocate(4 * sizeof(float), "device");
        var pinned = driver.AllocateHost(4 * sizeof(float), mapped: false, "pinned input");
        var input = new Span<float>((void*)pinned, 4);
        input.Fill(1f);

        driver.BeginCapture(stream, "the step");
        driver.CopyHostToDeviceAsync(device, (void*)pinned, 4 * sizeof(float), stream, "input");
        driver.MemsetD32Async(device.Offset(12), BitConverter.SingleToUInt32Bits(-1f), 1, stream, "last");
        driver.Launch(function, new LaunchConfig(1, 32), ScaleAddArguments(device, device), stream, "kernel 'scale_add'");
        var graph = driver.EndCapture(stream, "the step");

        Assert.That(Read(device, 4), Is.All.EqualTo(0f), "captured work does not run");
        Assert.That(driver.CheckedLaunches.ContainsKey("scale_add"), Is.False);
        var exec = driver.Instantiate(graph, "the step");
        input.Fill(2f);
        driver.LaunchGraph(exec, stream, "the step");
        Assert.That(Read(device, 4), Is.EqualTo(new[] { 2f, 2f, 2f, -1f }));
        input.Fill(3f);
        driver.LaunchGraph(exec, stream, "the step");
        Assert.That(Read(device, 4), Is.EqualTo(new[] { 3f, 3f, 3f, -1f }));
        Assert.That((driver.Counters.GraphLaunches, driver.Counters.Launches, driver.CheckedLaunches["scale_add"]), Is.EqualTo((2L, 1L, 2L)),
            "the capture is one launch call; the graph ran the kernel twice");

        driver.Free(device, "device");
        Assert.That(() => driver.LaunchGraph(exec, stream, "the step"), Throws.TypeOf<CudaDriverException>(), "replay re-checks the memory it touches");
        driver.DestroyGraphExec(exec, "the step");
        driver.DestroyGraph(graph, "the step");
        Assert.That(() => driver.LaunchGraph(exec, stream, "the step"), Throws.TypeOf<CudaDriverException>().With.Property(nameof(CudaDriverException.ErrorCode)).EqualTo(400));
    }

    [Test]
    public void DuringACaptureAllocationSynchronisationAndPageableCopiesAreRefused()
    {
        var device = driver.Allocate(16, "device");
        var pageable = new float[4];
        driver.BeginCapture(stream, "the step");

        AssertCaptureRefused(() => driver.Allocate(16, "more"), "cuMemAlloc");
        AssertCaptureRefused(() => driver.Free(device, "device"), "cuMemFree");
        AssertCaptureRefused(() => driver.SynchronizeStream(stream, "the step"), "cuStreamSynchronize");
        AssertCaptureRefused(() => Write(device, pageable), "cuMemcpyHtoDAsync");
        Assert.That(() => driver.BeginCapture(stream, "again"), Throws.TypeOf<CudaDriverException>().With.Property(nameof(CudaDriverException.ErrorName)).EqualTo("CUDA_ERROR_ILLEGAL_STATE"));

        driver.EndCapture(stream, "the step");
        Assert.That(() => driver.EndCapture(stream, "the step"), Throws.TypeOf<CudaDriverException>().With.Message.Contains("not capturing"));
        Assert.That(() => Write(device, pageable), Throws.Nothing);
        Assert.That(driver.Allocate(16, "more"), Is.Not.EqualTo(DevicePointer.Null));
    }

    private static void AssertCaptureRefused(TestDelegate call, string entryPoint)
        => Assert.That(call, Throws.TypeOf<CudaDriverException>().With.Message.StartsWith($"{entryPoint} failed")
            .And.Message.Contains("CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED (900): operation not permitted when stream is capturing"));

    [Test]
    public void ReleaseCallsAfterDisposeDoNothing()
    {
        var p = driver.Allocate(16, "p");
        var (_, module) = LoadScaleAdd();
        driver.Dispose();

        Assert.That(() => driver.Free(p, "p"), Throws.Nothing);
        Assert.That(() => driver.UnloadModule(module, "m"), Throws.Nothing);
        Assert.That(() => driver.DestroyStream(stream, "s"), Throws.Nothing);
        Assert.That(driver.LiveAllocations, Is.Zero);
    }
}
