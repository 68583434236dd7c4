using Qwen3Next.Checkpoint;

namespace Qwen3Next.Backends;

/// <summary>
/// The op set the model graph is written against. Every backend (reference, ilgpu, ptx)
/// implements the same ops with the same layouts, so the graph, the conformance runner
/// and the benchmarks are shared. All activations are float32, row-major <c>[rows, features]</c>;
/// matrices are bf16 <c>[out, in]</c> and compute <c>y = x·Wᵀ</c> with float32 accumulation.
/// </summary>
public interface IKernelBackend : IDisposable
{
    /// <summary>Name used on the command line: reference, ilgpu, ptx.</summary>
    string Name { get; }

    /// <summary>The arithmetic of this backend's kernels (<see cref="Backends.Precision"/>), fixed at creation.</summary>
    Precision Precision { get; }

    /// <summary>One thread at a time: callers that share the backend lock <see cref="BackendAccess.Gate"/>; an overlapping
    /// call throws <see cref="InvalidOperationException"/>, any call after <see cref="IDisposable.Dispose"/> <see cref="ObjectDisposedException"/>.</summary>
    BackendAccess Access { get; }

    /// <summary>What this backend's KV caches for <paramref name="shape"/> hold (<see cref="KvElement"/>): fp32 unless
    /// its kernels keep a bf16 cache (the ptx backend's fast precision).</summary>
    KvElement KvCacheElement(GatedAttentionShape shape) => KvElement.Float32;

    /// <summary>A zero-filled buffer of <paramref name="length"/> floats (0 ≤ length).</summary>
    DeviceTensor Allocate(long length);

    DeviceTensor Upload(ReadOnlySpan<float> data);

    void Download(DeviceTensor source, Span<float> destination);

    /// <summary>Waits until every op queued on this backend has finished (timing; host reads).</summary>
    void Synchronize();

    /// <summary>Copies <paramref name="length"/> floats between buffers of this backend.</summary>
    void Copy(DeviceTensor source, long sourceOffset, DeviceTensor destination, long destinationOffset, long length);

    /// <summary>Loads a checkpoint tensor: rank ≥ 2 becomes a bf16 matrix <c>[dim0, rest]</c>,
    /// rank 1 a float32 vector.</summary>
    DeviceWeight LoadWeight(TensorView view);

    /// <summary>Loads the routed experts of one MoE layer in the layout this backend wants.</summary>
    ExpertWeights LoadExperts(MoeShape shape, IReadOnlyList<ExpertTensors> experts);

    IBasicOps Basic { get; }

    IGatedDeltaOps GatedDelta { get; }

    IGatedAttentionOps Attention { get; }

    IMoeOps Moe { get; }
}

/// <summary>The three checkpoint tensors of one routed expert.</summary>
public sealed record ExpertTensors(TensorView Gate, TensorView Up, TensorView Down);

/// <summary>The routed experts of one layer, kept however the backend likes.</summary>
public abstract class ExpertWeights : IDisposable
{
    private int disposed;

    public bool IsDisposed => Volatile.Read(ref disposed) != 0;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            Release();
        }

        GC.SuppressFinalize(this);
    }

    protected abstract void Release();
}
