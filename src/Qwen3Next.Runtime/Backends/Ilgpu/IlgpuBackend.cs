using ILGPU;
using ILGPU.Runtime;
using Qwen3Next.Checkpoint;
using Qwen3Next.Device;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.GatedDelta;
using Qwen3Next.Ops.Moe;
using Qwen3Next.PtxEmulator;
using Qwen3Next.Streaming;

namespace Qwen3Next.Backends.Ilgpu;

/// <summary>
/// Kernels written in C# with ILGPU: they run on CUDA through ILGPU's PTX backend, or on ILGPU's CPU
/// accelerator (32-wide warps) where there is no GPU. Each op family lives beside its reference
/// under <c>Ops/&lt;Family&gt;/</c>; this class owns buffers and weights and hands out the families.
/// </summary>
public sealed class IlgpuBackend : IKernelBackend, ILayerStaging, IForwardCapacity
{
    private readonly bool ownsDevice;
    private readonly EmulatedIlgpuKernels? emulated;

    public IlgpuBackend(ComputeDevice device, bool ownsDevice = false)
        : this(device, ownsDevice, emulator: null)
    {
    }

    private IlgpuBackend(ComputeDevice device, bool ownsDevice, EmulatedGpu? emulator)
    {
        Device = device;
        this.ownsDevice = ownsDevice;
        emulated = emulator is null ? null : new EmulatedIlgpuKernels(emulator);
        Kernels = new IlgpuKernelLoader(device.Accelerator, emulated);
        Batches = new IlgpuBatchMetadata(this);
        Basic = new IlgpuBasicOps(this);
        GatedDelta = new IlgpuGatedDeltaOps(this);
        Attention = new IlgpuGatedAttentionOps(this);
        Moe = new IlgpuMoeOps(this);
    }

    public static IlgpuBackend Create(DeviceKind kind = DeviceKind.Auto) => new(ComputeDevice.Create(kind), ownsDevice: true);

    /// <summary>
    /// The ILGPU kernels as the PTX ILGPU generates for CUDA, executed by the PTX emulator (buffers live on ILGPU's CPU
    /// accelerator; launch configurations are the CUDA ones). Every launch runs under <paramref name="options"/>
    /// (sanitizer on by default).
    /// </summary>
    public static IlgpuBackend CreateEmulated(EmulatorOptions? options = null)
        => new(ComputeDevice.Create(DeviceKind.Cpu), ownsDevice: true, new EmulatedGpu(options));

    public string Name => emulated is null ? "ilgpu" : "ilgpu-emu";

    /// <summary>ILGPU has no tensor-core path, so no fast mode: its kernels are always fp32.</summary>
    public Precision Precision => Precision.Exact;

    /// <summary>Loads the op families' kernels: through ILGPU, or onto the PTX emulator.</summary>
    public IlgpuKernelLoader Kernels { get; }

    /// <summary>The device copy of the current <see cref="SequenceBatch"/>, shared by the op families.</summary>
    public IlgpuBatchMetadata Batches { get; }

    /// <summary>The emulator running this backend's kernels, or null.</summary>
    public EmulatedGpu? Emulator => emulated?.Gpu;

    public BackendAccess Access { get; } = new("ilgpu");

    public ComputeDevice Device { get; }

    public Accelerator Accelerator => Device.Accelerator;

    public AcceleratorStream Stream => Device.Compute;

    /// <summary>
    /// ILGPU's CPU accelerator runs a group's threads as OS threads: measured on 2 cores, a Group.Barrier costs
    /// about 0.25 ms (32 threads) to 1.6 ms (256 threads), a warp shuffle 5–9 ms and a group launch 0.3–1 ms.
    /// Launchers therefore use one-warp groups and few of them there, and kernels use grid-stride loops and
    /// shared-memory reductions so the same code is also right for CUDA's many large groups.
    /// </summary>
    public bool IsCpuAccelerator => Accelerator.AcceleratorType == AcceleratorType.CPU && emulated is null;

    /// <summary>The group size to launch with: <paramref name="cudaGroupSize"/> on a GPU, one warp on the CPU accelerator.</summary>
    public int GroupSize(int cudaGroupSize) => IsCpuAccelerator ? Accelerator.WarpSize : cudaGroupSize;

    /// <summary>How many groups to launch for <paramref name="groupsWanted"/> units of work (kernels loop grid-stride over the rest).</summary>
    public int GridSize(long groupsWanted) => (int)Math.Max(1, Math.Min(groupsWanted, IsCpuAccelerator ? 2 : 1 << 20));

    public IBasicOps Basic { get; }

    public IGatedDeltaOps GatedDelta { get; }

    public IGatedAttentionOps Attention { get; }

    public IMoeOps Moe { get; }

    public DeviceTensor Allocate(long length)
    {
        using var use = OpContracts.Allocate(Access, length);
        var buffer = Accelerator.Allocate1D<float>(Math.Max(1, length));
        buffer.MemSetToZero(Stream);
        return new IlgpuTensor(buffer);
    }

    public DeviceTensor Upload(ReadOnlySpan<float> data)
    {
        using var use = Access.Enter();
        var buffer = Accelerator.Allocate1D<float>(Math.Max(1, data.Length));
        buffer.View.SubView(0, data.Length).CopyFromCPU(Stream, data);
        return new IlgpuTensor(buffer);
    }

    public void Download(DeviceTensor source, Span<float> destination)
    {
        using var use = OpContracts.Download(Access, source, destination.Length);
        T(source).View.SubView(0, destination.Length).CopyToCPU(Stream, destination);
        Stream.Synchronize();
    }

    public void Synchronize()
    {
        using var use = Access.Enter();
        Stream.Synchronize();
    }

    public void Copy(DeviceTensor source, long sourceOffset, DeviceTensor destination, long destinationOffset, long length)
    {
        using var use = OpContracts.Copy(Access, source, sourceOffset, destination, destinationOffset, length);
        if (length > 0)
        {
            T(source).View.SubView(sourceOffset, length).CopyTo(Stream, T(destination).View.SubView(destinationOffset, length));
        }
    }

    public DeviceWeight LoadWeight(TensorView view)
    {
        using var use = Access.Enter();
        if (!WeightLoading.IsMatrix(view))
        {
            var values = view.ToFloat32();
            var buffer = Accelerator.Allocate1D<float>(values.Length);
            buffer.View.CopyFromCPU(Stream, values);
            return new IlgpuWeight(view.Name, buffer);
        }

        var (rows, cols) = WeightLoading.MatrixShape(view);
        var bits = WeightLoading.MatrixBits(view);
        if (LayerStreaming is { } streaming && LayerWeightStreaming.LayerOf(view.Name) is { } layer)
        {
            return streaming.Register(layer, view.Name, rows, cols, bits);
        }

        var matrix = Accelerator.Allocate1D<ushort>(bits.Length);
        matrix.View.CopyFromCPU(Stream, bits);
        return new IlgpuWeight(view.Name, rows, cols, matrix);
    }

    /// <summary>When set, routed experts are kept in pinned host memory and streamed through a device cache.</summary>
    public ExpertStreaming? Streaming { get; private set; }

    /// <summary>Streams routed experts through <paramref name="slots"/> device slots (call before loading a model).</summary>
    public ExpertStreaming EnableExpertStreaming(MoeShape shape, int slots, IExpertReplacementPolicy? policy = null)
    {
        Streaming?.Dispose();
        Streaming = new ExpertStreaming(this, shape, slots, policy);
        return Streaming;
    }

    /// <summary>When set, each layer's bf16 matrices stream through two device staging buffers.</summary>
    public LayerWeightStreaming? LayerStreaming { get; private set; }

    /// <summary>Streams non-expert layer matrices through two staging buffers of <paramref name="stageElements"/> bf16
    /// values each (call before loading a model); statistics are shared with the expert cache when there is one.</summary>
    public LayerWeightStreaming EnableLayerStreaming(long stageElements)
    {
        LayerStreaming?.Dispose();
        LayerStreaming = new LayerWeightStreaming(Device, stageElements, Streaming?.Statistics ?? new StreamingStatistics());
        return LayerStreaming;
    }

    public void BeforeLayer(int layer, int nextLayer) => LayerStreaming?.Stage(layer, nextLayer);

    /// <summary>The host-driven cache needs every distinct expert of a layer's call in a slot at once.</summary>
    public void RequireForwardOf(int tokens)
    {
        if (Streaming is { } s && Math.Min(s.Shape.Experts, (long)tokens * s.Shape.TopK) > s.Slots)
        {
            throw new InvalidOperationException($"A forward pass of {tokens} tokens may select {Math.Min(s.Shape.Experts, (long)tokens * s.Shape.TopK)} "
                + $"experts of one layer but the expert cache has {s.Slots} slots; lower --prefill-chunk or raise --device-memory.");
        }
    }

    public ExpertWeights LoadExperts(MoeShape shape, IReadOnlyList<ExpertTensors> experts)
    {
        using var use = Access.Enter();
        return Streaming is { } streaming ? streaming.Register(shape, experts) : IlgpuMoeOps.LoadExperts(this, shape, experts);
    }

    /// <summary>Temporary int buffer (token ids, expert ids), uploaded on the compute stream.</summary>
    internal MemoryBuffer1D<int, Stride1D.Dense> UploadInts(ReadOnlySpan<int> values)
    {
        var buffer = Accelerator.Allocate1D<int>(Math.Max(1, values.Length));
        buffer.View.SubView(0, values.Length).CopyFromCPU(Stream, values);
        return buffer;
    }

    internal static IlgpuTensor T(DeviceTensor t) => t as IlgpuTensor
        ?? throw new ArgumentException($"The tensor belongs to another backend ({t.GetType().Name}), not an ILGPU or PTX backend.");

    internal static IlgpuWeight W(DeviceWeight w) => w as IlgpuWeight
        ?? throw new ArgumentException($"Weight '{w.Name}' belongs to another backend ({w.GetType().Name}), not an ILGPU or PTX backend.");

    public void Dispose()
    {
        if (Access.IsDisposed)
        {
            return;
        }

        Access.MarkDisposed();
        Streaming?.Dispose();
        LayerStreaming?.Dispose();
        foreach (var family in new object[] { Basic, GatedDelta, Attention, Moe })
        {
            (family as IDisposable)?.Dispose();
        }

        Batches.Dispose();
        emulated?.Dispose();
        if (ownsDevice)
        {
            Device.Dispose();
        }
    }
}
