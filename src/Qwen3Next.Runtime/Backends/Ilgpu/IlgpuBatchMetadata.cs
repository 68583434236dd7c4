using ILGPU;
using ILGPU.Runtime;

namespace Qwen3Next.Backends.Ilgpu;

/// <summary>
/// The device copy of a <see cref="SequenceBatch"/>'s int32 arrays (<see cref="SequenceBatch.Packed"/>, offsets in
/// <see cref="SequenceBatch.Layout"/>) for the ILGPU kernels: uploaded once per forward pass (kept while the same immutable
/// batch instance comes back), into a buffer that only grows. Copies are ordered on the compute stream.
/// </summary>
public sealed class IlgpuBatchMetadata(IlgpuBackend backend) : IDisposable
{
    private MemoryBuffer1D<int, Stride1D.Dense>? buffer;
    private SequenceBatch? uploaded;

    public ArrayView<int> Of(SequenceBatch batch)
    {
        var packed = batch.Packed;
        if (!ReferenceEquals(batch, uploaded))
        {
            if (buffer is null || buffer.Length < packed.Length)
            {
                buffer?.Dispose();
                buffer = backend.Accelerator.Allocate1D<int>(Math.Max(packed.Length, 2 * (buffer?.Length ?? 0)));
            }

            buffer.View.SubView(0, packed.Length).CopyFromCPU(backend.Stream, packed);
            uploaded = batch;
        }

        return buffer!.View.SubView(0, packed.Length);
    }

    public void Dispose() => buffer?.Dispose();
}
