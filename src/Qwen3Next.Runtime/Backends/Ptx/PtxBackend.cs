using ILGPU.Runtime.Cuda;
using Qwen3Next.Checkpoint;
using Qwen3Next.Cuda;
using Qwen3Next.Graph;
using Qwen3Next.Device;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.GatedDelta;
using Qwen3Next.Ops.Moe;
using Qwen3Next.PtxEmulator;
using Qwen3Next.Streaming;

namespace Qwen3Next.Backends.Ptx;

/// <summary>
/// The hand-written CUDA C kernels of <c>kernels/</c>, compiled to sm_90 PTX at build time, embedded, and launched
/// through one <see cref="ICudaDriver"/>: the backend owns its tensors, weights and workspaces as device pointers,
/// runs every op in order on its compute stream, and makes no driver call any other way, so the same launchers run on
/// a GPU (<see cref="CudaApiDriver"/>), on host memory with launches only checked (<see cref="CreateSignatureCheck"/>)
/// or on an emulated device. The launchers live beside the other implementations of each op, <c>Ops/&lt;Family&gt;/Ptx*Ops.cs</c>.
/// </summary>
public sealed partial class PtxBackend : IKernelBackend, IForwardCapacity, IDeviceSampling, IStepGraphs, IWorkingSetReservation
{
    public const string NoDeviceMessage = "no CUDA device: the ptx backend needs an NVIDIA GPU; use --backend ilgpu or reference";

    private readonly bool ownsDriver;
    private readonly PtxKernelSet kernels;
    private bool disposed;

    /// <summary>Binds to an existing device; throws <see cref="NotSupportedException"/> unless it is a CUDA device and PTX is embedded.</summary>
    public PtxBackend(ComputeDevice device, bool ownsDevice = false, Precision precision = Precision.Fast)
        : this(CudaDriverOf(device, ownsDevice), PtxCatalog.Embedded, precision)
    {
    }

    /// <summary>Runs the embedded kernels of <paramref name="catalog"/> through <paramref name="driver"/> (disposed with
    /// the backend when <paramref name="ownsDriver"/>, also when this constructor fails).</summary>
    internal PtxBackend(ICudaDriver driver, PtxCatalog catalog, Precision precision, bool ownsDriver = true)
    {
        Driver = driver;
        Precision = precision;
        this.ownsDriver = ownsDriver;
        try
        {
            catalog.EnsureAvailable();
            Signatures = new PtxSignatures(catalog);
            kernels = new PtxKernelSet(driver, catalog);
            Stream = driver.CreateStream(nonBlocking: true, "the ptx compute stream");
            CopyStream = driver.CreateStream(nonBlocking: true, "the ptx copy stream");
            Workspace = new DeviceWorkspace(driver, Stream);
            Arena = new DeviceTensorArena(driver);
        }
        catch
        {
            if (ownsDriver)
            {
                driver.Dispose();
            }

            throw;
        }

        Batches = new PtxBatchMetadata(this);
        Basic = PtxBasic = new PtxBasicOps(this);
        GatedDelta = new PtxGatedDeltaOps(this);
        Attention = new PtxGatedAttentionOps(this);
        Moe = new PtxMoeOps(this);
    }

    /// <summary>The first CUDA device; <see cref="NotSupportedException"/> with <see cref="NoDeviceMessage"/> when there is none.
    /// Fast precision unless asked otherwise (<see cref="PrecisionModes.DefaultFor"/>).</summary>
    public static PtxBackend Create(Precision precision = Precision.Fast)
    {
        ComputeDevice device;
        try
        {
            device = ComputeDevice.Create(DeviceKind.Cuda);
        }
        catch (Exception e) when (e is NotSupportedException or DllNotFoundException or TypeInitializationException or CudaException)
        {
            throw new NotSupportedException(NoDeviceMessage, e);
        }

        return new PtxBackend(device, ownsDevice: true, precision);
    }

    /// <summary>
    /// A ptx backend on host memory that drives every launcher and checks each launch's arguments against the
    /// kernel's PTX signature, its launch configuration and its pointers against live allocations, without running
    /// it: the launch layer's ABI checked without a GPU (<see cref="SignatureCheckDriver"/>). Outputs are not computed.
    /// </summary>
    public static PtxBackend CreateSignatureCheck(Precision precision = Precision.Exact) => new(new SignatureCheckDriver(), PtxCatalog.Embedded, precision);

    /// <summary>
    /// The ptx backend on the PTX emulator (<see cref="EmulatedCudaDriver"/>): the same launchers and driver calls as on
    /// a GPU, each kernel's shipped PTX executed on the CPU under <paramref name="options"/> (sanitizer on by default).
    /// </summary>
    public static PtxBackend CreateEmulated(EmulatorOptions? options = null, Precision precision = Precision.Exact)
        => new(new EmulatedCudaDriver(new EmulatedGpu(options)), PtxCatalog.Embedded, precision) { name = "ptx-emu" };

    /// <summary>The emulator under this backend, or null on a GPU or in signature-check mode.</summary>
    public EmulatedGpu? Emulator => (Driver as EmulatedCudaDriver)?.Gpu;

    private static CudaApiDriver CudaDriverOf(ComputeDevice device, bool ownsDevice)
    {
        if (!device.IsCuda)
        {
            throw new NotSupportedException($"{NoDeviceMessage} (the device is {device.Accelerator.AcceleratorType}).");
        }

        return new CudaApiDriver(device, ownsDevice);
    }

    private string name = "ptx";

    public string Name => name;

    public BackendAccess Access { get; } = new("ptx");

    /// <summary>Exact: the fp32 kernels (3-term split GEMMs). Fast: bf16 operands on the tensor cores with fp32
    /// accumulation where a fast kernel exists (prefill GEMMs, grouped expert GEMMs; the launchers of the other
    /// families read this too), the exact kernels elsewhere.</summary>
    public Precision Precision { get; }

    /// <summary>The device this backend runs on, in words.</summary>
    public string Description => Driver.Description;

    /// <summary>Driver calls so far (launches, copies, allocations, host synchronisations).</summary>
    public CudaDriverCounters DriverCounters => Driver.Counters;

    internal ICudaDriver Driver { get; }

    /// <summary>The compute stream (non-blocking); every op enqueues here, in order.</summary>
    internal StreamHandle Stream { get; }

    /// <summary>A second non-blocking stream for weight copies that overlap compute.</summary>
    internal StreamHandle CopyStream { get; }

    internal PtxKernelSet Kernels => kernels;

    /// <summary>The sm_90a (wgmma) kernels of the fast precision are embedded: this build found CUDA 12.4
    /// (<c>tools/cuda12-toolchain.sh</c>). Without them fast precision runs the exact kernels.</summary>
    public bool HasSm90aKernels => kernels.Catalog.Contains(PtxBasicOps.MatMulWgmma) && kernels.Catalog.Contains(PtxMoeOps.GateUpWgmma)
        && kernels.Catalog.Contains(PtxMoeOps.DownWgmma);

    /// <summary>The precision in words, saying when fast precision has no tensor-core kernels to run.</summary>
    public string PrecisionDescription => Precision == Precision.Fast && !HasSm90aKernels
        ? "fast requested, but this build has no sm_90a kernels (CUDA 12.4 missing at build time): the exact kernels run"
        : Precision.Name();

    /// <summary>The embedded kernels' parameter lists; every launch is checked against them.</summary>
    public PtxSignatures Signatures { get; }

    internal DeviceWorkspace Workspace { get; }

    /// <summary>The device copy of the current <see cref="SequenceBatch"/>, shared by the op families.</summary>
    internal PtxBatchMetadata Batches { get; }

    internal PtxBasicOps PtxBasic { get; }

    public IBasicOps Basic { get; }

    public IGatedDeltaOps GatedDelta { get; }

    public IGatedAttentionOps Attention { get; }

    /// <summary>bf16 in the fast precision where its attention kernels cover the shape (<see cref="PtxGatedAttentionOps.CacheElement"/>).</summary>
    public KvElement KvCacheElement(GatedAttentionShape shape) => ((PtxGatedAttentionOps)Attention).CacheElement(shape);

    public IMoeOps Moe { get; }

    internal static PtxTensor T(DeviceTensor tensor) => tensor as PtxTensor
        ?? throw new ArgumentException($"The tensor was allocated by another backend ({tensor.GetType().Name}), not by ptx.", nameof(tensor));

    internal static PtxWeight W(DeviceWeight weight) => weight as PtxWeight
        ?? throw new ArgumentException($"Weight '{weight.Name}' was loaded by another backend ({weight.GetType().Name}), not by ptx.", nameof(weight));

    /// <summary>A device buffer of max(1, <paramref name="length"/>) elements, not initialised.</summary>
    internal DeviceBuffer<T> AllocateBuffer<T>(long length, string what) where T : unmanaged
        => DeviceBuffer<T>.Allocate(Driver, Math.Max(1, length), what);

    /// <summary>Tensors (<see cref="Allocate"/>, <see cref="Upload"/>) come from here and go back on dispose.</summary>
    internal DeviceTensorArena Arena { get; }

    /// <summary>Idle activation bytes the backend keeps for reuse (<see cref="DeviceTensorArena"/>); 0 frees every
    /// tensor on dispose.</summary>
    public long ArenaCapacityBytes
    {
        get => Arena.CapacityBytes;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Arena.CapacityBytes = value;
        }
    }

    /// <summary>Whether the model may capture decode steps as CUDA graphs and replay them (on by default).</summary>
    public bool UseStepGraphs { get; set; } = true;

    public bool CanCaptureSteps => UseStepGraphs && Streaming is null && timer is null;

    public long MemoryEpoch => Workspace.Moves + Arena.Frees;

    public int GeometryOf(SequenceBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return PtxGatedAttentionOps.ContextSplits(batch.MaxContext);
    }

    public void Stage(SequenceBatch batch, ReadOnlySpan<int> tokens)
    {
        using var use = Access.Enter();
        Batches.Of(batch);
        PtxBasic.StageIds(tokens);
    }

    public void BeginCapture()
    {
        using var use = Access.Enter();
        Driver.BeginCapture(Stream, "a decode step");
    }

    public CapturedStep EndCapture()
    {
        using var use = Access.Enter();
        var graph = Driver.EndCapture(Stream, "a decode step");
        try
        {
            return new PtxCapturedStep(this, graph, Driver.Instantiate(graph, "a decode step"));
        }
        catch
        {
            Driver.DestroyGraph(graph, "a decode step");
            throw;
        }
    }

    public void AbortCapture()
    {
        using var use = Access.Enter();
        Driver.DestroyGraph(Driver.EndCapture(Stream, "a failed capture"), "a failed capture");
    }

    public void Replay(CapturedStep step)
    {
        using var use = Access.Enter();
        var captured = step as PtxCapturedStep;
        if (captured is null || captured.Backend != this)
        {
            throw new ArgumentException("The step was captured by another backend.", nameof(step));
        }

        Driver.LaunchGraph(captured.Exec, Stream, "a decode step");
    }

    /// <summary>A device sampler for greedy decoding or top-k ≤ 256 sampling (<see cref="PtxTokenSampler.Supports"/>); null otherwise.</summary>
    public DeviceTokenSampler? CreateSampler(SamplingOptions options, int rows)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        using var use = Access.Enter();
        return PtxTokenSampler.Supports(options) ? new PtxTokenSampler(this, options, rows) : null;
    }

    public DeviceTensor Allocate(long length)
    {
        using var use = OpContracts.Allocate(Access, length);
        var buffer = Arena.Rent(length, "a tensor");
        Driver.MemsetD32Async(buffer.Span.Address, 0, buffer.Length, Stream, "a tensor");
        return new PtxTensor(buffer, Arena);
    }

    public DeviceTensor Upload(ReadOnlySpan<float> data)
    {
        using var use = Access.Enter();
        var buffer = Arena.Rent(data.Length, "a tensor");
        CopyToDevice(data, buffer.Span.Slice(0, data.Length));
        return new PtxTensor(buffer, Arena);
    }

    public void Download(DeviceTensor source, Span<float> destination)
    {
        using var use = OpContracts.Download(Access, source, destination.Length);
        CopyToHost(T(source).Span.Slice(0, destination.Length), destination);
        Synchronize();
    }

    public void Synchronize()
    {
        using var use = Access.Enter();
        if (sizing)
        {
            return;
        }

        Driver.SynchronizeStream(Stream, "the ptx compute stream");
        Streaming?.CollectStalls();
    }

    public void Copy(DeviceTensor source, long sourceOffset, DeviceTensor destination, long destinationOffset, long length)
    {
        using var use = OpContracts.Copy(Access, source, sourceOffset, destination, destinationOffset, length);
        CopyOnDevice(T(source).Span.Slice(sourceOffset, length), T(destination).Span.Slice(destinationOffset, length));
    }

    public DeviceWeight LoadWeight(TensorView view)
    {
        using var use = Access.Enter();
        if (!WeightLoading.IsMatrix(view))
        {
            var values = view.ToFloat32();
            var floats = AllocateBuffer<float>(values.Length, $"weight '{view.Name}'");
            CopyToDevice<float>(values, floats.Span.Slice(0, values.Length));
            return new PtxWeight(view.Name, floats);
        }

        var (rows, cols) = WeightLoading.MatrixShape(view);
        var bits = WeightLoading.MatrixBits(view);
        var matrix = AllocateBuffer<ushort>(bits.Length, $"weight '{view.Name}'");
        CopyToDevice<ushort>(bits, matrix.Span.Slice(0, bits.Length));
        return new PtxWeight(view.Name, rows, cols, matrix);
    }

    public ExpertWeights LoadExperts(MoeShape shape, IReadOnlyList<ExpertTensors> experts)
    {
        using var use = Access.Enter();
        return Streaming is { } streaming ? streaming.Register(shape, experts) : PtxMoeOps.LoadExperts(this, shape, experts);
    }

    public void RequireForwardOf(int tokens) => Streaming?.RequireRoomFor(tokens);

    /// <summary>Expert streaming, when enabled: experts loaded from now on stay in mapped host memory and are cached
    /// in device slots by kernels.</summary>
    public PtxExpertStreaming? Streaming { get; private set; }

    /// <summary>
    /// Streams the routed experts of the next <paramref name="layers"/> MoE layers loaded through <see cref="LoadExperts"/>
    /// through <paramref name="slots"/> device slots (at least top-k, at most every expert there is), warmed with the
    /// most used experts of <paramref name="warm"/> when given; <paramref name="predict"/> lets each decode layer
    /// prefetch the experts the next layer's router picks for its input. Enable before loading the model.
    /// </summary>
    public PtxExpertStreaming EnableExpertStreaming(MoeShape shape, int layers, int slots, ExpertRoutingCounts? warm = null, bool predict = true)
    {
        using var use = Access.Enter();
        Streaming?.Dispose();
        Streaming = null;
        Streaming = new PtxExpertStreaming(this, shape, layers, slots, warm, predict);
        return Streaming;
    }

    /// <summary>Enqueues a host-to-device copy on the compute stream. The source is managed (pageable) memory, which
    /// the driver has read by the time the call returns.</summary>
    internal unsafe void CopyToDevice<T>(ReadOnlySpan<T> source, DeviceSpan<T> destination) where T : unmanaged
    {
        RequireSameLength(source.Length, destination.Length);
        if (source.IsEmpty)
        {
            return;
        }

        fixed (T* host = source)
        {
            Driver.CopyHostToDeviceAsync(destination.Address, host, destination.ByteLength, Stream, "an upload");
        }
    }

    /// <summary>Enqueues a device-to-host copy on the compute stream. Into managed (pageable) memory the driver has
    /// finished writing when the call returns; <see cref="Synchronize"/> orders it with the host all the same.</summary>
    internal unsafe void CopyToHost<T>(DeviceSpan<T> source, Span<T> destination) where T : unmanaged
    {
        RequireSameLength(destination.Length, source.Length);
        if (destination.IsEmpty || sizing)
        {
            return;
        }

        fixed (T* host = destination)
        {
            Driver.CopyDeviceToHostAsync(host, source.Address, source.ByteLength, Stream, "a download");
        }
    }

    /// <summary>Enqueues a device-to-device copy on the compute stream.</summary>
    internal void CopyOnDevice<T>(DeviceSpan<T> source, DeviceSpan<T> destination) where T : unmanaged
    {
        RequireSameLength(source.Length, destination.Length);
        if (sizing)
        {
            return;
        }

        Driver.CopyDeviceToDeviceAsync(destination.Address, source.Address, source.ByteLength, Stream, "a device copy");
    }

    private static void RequireSameLength(long host, long device)
    {
        if (host != device)
        {
            throw new ArgumentException($"A copy between {host} and {device} elements: the lengths must match.");
        }
    }

    /// <summary>Checks <paramref name="arguments"/> against the PTX signature of <paramref name="kernel"/>, then
    /// enqueues it on <see cref="Stream"/>.</summary>
    internal void Launch(string kernel, LaunchConfig config, KernelArguments arguments) => Launch(kernel, config, arguments, Stream);

    /// <summary>The same on <paramref name="stream"/> (the copy stream for prefetch kernels; never timed).</summary>
    internal void Launch(string kernel, LaunchConfig config, KernelArguments arguments, StreamHandle stream)
    {
        Signatures.Check(kernel, arguments);
        if (sizing)
        {
            return;
        }

        if (timer is null || stream != Stream)
        {
            kernels[kernel].Launch(stream, config, arguments);
        }
        else
        {
            timer.Time(kernel, config, () => kernels[kernel].Launch(Stream, config, arguments));
        }
    }

    private PtxLaunchTimer? timer;

    /// <summary>
    /// Runs <paramref name="work"/> with every launch bracketed by CUDA timing events and returns each launch's device
    /// time, in launch order (on a GPU: what calibrates the H200 model; on the emulator the events measure host time).
    /// </summary>
    public IReadOnlyList<TimedLaunch> TimeLaunches(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (timer is not null)
        {
            throw new InvalidOperationException("Launches are already being timed.");
        }

        using var launches = new PtxLaunchTimer(Driver, Stream);
        timer = launches;
        try
        {
            work();
            return launches.Collect();
        }
        finally
        {
            timer = null;
        }
    }

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        Access.MarkDisposed();
        Streaming?.Dispose();
        Workspace.Dispose();
        Arena.Dispose();
        kernels.Dispose();
        Driver.DestroyStream(CopyStream, "the ptx copy stream");
        Driver.DestroyStream(Stream, "the ptx compute stream");
        if (ownsDriver)
        {
            Driver.Dispose();
        }
    }
}
