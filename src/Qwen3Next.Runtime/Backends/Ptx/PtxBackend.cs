using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Checkpoint;
using Qwen3Next.Cuda;
using Qwen3Next.Device;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.GatedDelta;
using Qwen3Next.Ops.Moe;

namespace Qwen3Next.Backends.Ptx;

/// <summary>
/// The hand-written CUDA C kernels of <c>kernels/</c>, compiled to sm_90 PTX at build time, embedded, and launched
/// through the driver API (<see cref="Cuda"/>). Buffers, uploads, downloads and weights are the ILGPU backend's
/// (composition), so tensors live in the same CUDA context and every kernel, ILGPU or PTX, runs in order on
/// <see cref="Stream"/>. The launchers live beside the other implementations of each op, <c>Ops/&lt;Family&gt;/Ptx*Ops.cs</c>.
/// </summary>
public sealed class PtxBackend : IKernelBackend
{
    public const string NoDeviceMessage = "no CUDA device: the ptx backend needs an NVIDIA GPU; use --backend ilgpu or reference";

    private readonly IlgpuBackend storage;

    /// <summary>Binds to an existing device; throws <see cref="NotSupportedException"/> unless it is a CUDA device and PTX is embedded.</summary>
    public PtxBackend(ComputeDevice device, bool ownsDevice = false)
        : this(device, ownsDevice, PtxCatalog.Embedded)
    {
    }

    internal PtxBackend(ComputeDevice device, bool ownsDevice, PtxCatalog catalog)
    {
        if (!device.IsCuda)
        {
            throw new NotSupportedException($"{NoDeviceMessage} (the device is {device.Accelerator.AcceleratorType}).");
        }

        catalog.EnsureAvailable();
        storage = new IlgpuBackend(device, ownsDevice);
        Kernels = new PtxKernelSet(device, catalog);
        Workspace = new DeviceWorkspace(device.Accelerator, storage.Stream);
        Basic = PtxBasic = new PtxBasicOps(this);
        GatedDelta = new PtxGatedDeltaOps(this);
        Attention = new PtxGatedAttentionOps(this);
        Moe = new PtxMoeOps(this);
    }

    /// <summary>The first CUDA device; <see cref="NotSupportedException"/> with <see cref="NoDeviceMessage"/> when there is none.</summary>
    public static PtxBackend Create()
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

        try
        {
            return new PtxBackend(device, ownsDevice: true);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    public string Name => "ptx";

    public ComputeDevice Device => storage.Device;

    /// <summary>The compute stream (the ILGPU accelerator's default stream); every op enqueues here.</summary>
    public AcceleratorStream Stream => storage.Stream;

    public PtxKernelSet Kernels { get; }

    internal DeviceWorkspace Workspace { get; }

    internal PtxBasicOps PtxBasic { get; }

    public IBasicOps Basic { get; }

    public IGatedDeltaOps GatedDelta { get; }

    public IGatedAttentionOps Attention { get; }

    public IMoeOps Moe { get; }

    internal Accelerator Accelerator => storage.Accelerator;

    public DeviceTensor Allocate(long length) => storage.Allocate(length);

    public DeviceTensor Upload(ReadOnlySpan<float> data) => storage.Upload(data);

    public void Download(DeviceTensor source, Span<float> destination) => storage.Download(source, destination);

    public void Synchronize() => storage.Synchronize();

    public void Copy(DeviceTensor source, long sourceOffset, DeviceTensor destination, long destinationOffset, long length)
        => storage.Copy(source, sourceOffset, destination, destinationOffset, length);

    public DeviceWeight LoadWeight(TensorView view) => storage.LoadWeight(view);

    public ExpertWeights LoadExperts(MoeShape shape, IReadOnlyList<ExpertTensors> experts) => PtxMoeOps.LoadExperts(this, shape, experts);

    /// <summary>Enqueues <paramref name="kernel"/> on <see cref="Stream"/>.</summary>
    internal void Launch(string kernel, LaunchConfig config, KernelArguments arguments) => Kernels[kernel].Launch(Stream, config, arguments);

    public void Dispose()
    {
        Workspace.Dispose();
        Kernels.Dispose();
        storage.Dispose();
    }
}
