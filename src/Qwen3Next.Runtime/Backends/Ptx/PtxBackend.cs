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

    internal PtxBackend(ComputeDevice device, bool ownsDevice, PtxCatalog catalog, bool signaturesOnly = false)
    {
        if (!device.IsCuda && !signaturesOnly)
        {
            throw new NotSupportedException($"{NoDeviceMessage} (the device is {device.Accelerator.AcceleratorType}).");
        }

        catalog.EnsureAvailable();
        storage = new IlgpuBackend(device, ownsDevice);
        Signatures = new PtxSignatures(catalog);
        kernels = signaturesOnly ? null : new PtxKernelSet(device, catalog);
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

    /// <summary>Shared with the storage backend, so buffers and launches follow one threading rule.</summary>
    public BackendAccess Access => storage.Access;

    public ComputeDevice Device => storage.Device;

    /// <summary>The compute stream (the ILGPU accelerator's default stream); every op enqueues here.</summary>
    public AcceleratorStream Stream => storage.Stream;

    private readonly PtxKernelSet? kernels;

    public PtxKernelSet Kernels => kernels ?? throw new InvalidOperationException("This ptx backend only checks launch signatures.");

    /// <summary>The embedded kernels' parameter lists; every launch is checked against them.</summary>
    public PtxSignatures Signatures { get; }

    /// <summary>
    /// A ptx backend that runs every launcher on any device (the CPU accelerator included) and checks each launch's
    /// arguments against the kernel's PTX signature and its launch configuration, without launching: the launch
    /// layer's ABI checked without a GPU. Outputs are not computed.
    /// </summary>
    public static PtxBackend CreateSignatureCheck(ComputeDevice device, bool ownsDevice = false)
        => new(device, ownsDevice, PtxCatalog.Embedded, signaturesOnly: true);

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

    public ExpertWeights LoadExperts(MoeShape shape, IReadOnlyList<ExpertTensors> experts)
    {
        using var use = Access.Enter();
        return PtxMoeOps.LoadExperts(this, shape, experts);
    }

    /// <summary>Enqueues <paramref name="kernel"/> on <see cref="Stream"/>.</summary>
    /// <summary>Launches issued (or, in signature-check mode, checked) so far.</summary>
    public long Launches { get; private set; }

    internal void Launch(string kernel, LaunchConfig config, KernelArguments arguments)
    {
        Signatures.Check(kernel, arguments);
        Launches++;
        if (kernels is null)
        {
            config.Validate(kernel);
            return;
        }

        kernels[kernel].Launch(Stream, config, arguments);
    }

    public void Dispose()
    {
        if (Access.IsDisposed)
        {
            return;
        }

        Workspace.Dispose();
        kernels?.Dispose();
        storage.Dispose();
    }
}
