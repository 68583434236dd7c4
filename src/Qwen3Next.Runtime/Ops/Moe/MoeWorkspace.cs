using ILGPU;
using ILGPU.Runtime;
using Qwen3Next.Backends.Ilgpu;

namespace Qwen3Next.Ops.Moe;

/// <summary>
/// Device scratch of one MoE call, kept between calls and grown only when a call needs more, so a decode step
/// allocates and frees nothing (freeing on CUDA would synchronise the host). Sizes for T tokens, E experts, top-k,
/// expert width I, shared width S and hidden H: logits <c>[T,E]</c>; selected and weights <c>[T,k]</c>; counts <c>[E]</c>;
/// row and tile offsets <c>[E+1]</c>; gather and pairPos <c>[T·k]</c>; h <c>[T·k, I]</c>; yPerm <c>[T·k, H]</c>;
/// sharedH <c>[T, S]</c>; shared <c>[T, H]</c>.
/// </summary>
internal sealed class MoeWorkspace(Accelerator accelerator)
{
    private MemoryBuffer1D<float, Stride1D.Dense>? logits, weights, h, yPerm, sharedH, shared;
    private MemoryBuffer1D<int, Stride1D.Dense>? selected, counts, rowOffsets, tileOffsets, gather, pairPos;

    public ArrayView<float> Logits => logits!.View;

    public IlgpuTensor? LogitsTensor { get; private set; }

    public ArrayView<float> Weights => weights!.View;

    public ArrayView<float> H => h!.View;

    public ArrayView<float> YPerm => yPerm!.View;

    public ArrayView<float> SharedH => sharedH!.View;

    public ArrayView<float> Shared => shared!.View;

    public ArrayView<int> Selected => selected!.View;

    public ArrayView<int> Counts => counts!.View;

    public ArrayView<int> RowOffsets => rowOffsets!.View;

    public ArrayView<int> TileOffsets => tileOffsets!.View;

    public ArrayView<int> Gather => gather!.View;

    public ArrayView<int> PairPos => pairPos!.View;

    public void Ensure(int tokens, int experts, int topK, int intermediate, int sharedIntermediate, int hidden)
    {
        long pairs = (long)tokens * topK;
        if (Grow(ref logits, (long)tokens * experts) || LogitsTensor is null)
        {
            LogitsTensor = new IlgpuTensor(logits!);
        }

        Grow(ref weights, pairs);
        Grow(ref h, pairs * intermediate);
        Grow(ref yPerm, pairs * hidden);
        Grow(ref sharedH, (long)tokens * sharedIntermediate);
        Grow(ref shared, (long)tokens * hidden);
        Grow(ref selected, pairs);
        Grow(ref counts, experts);
        Grow(ref rowOffsets, experts + 1);
        Grow(ref tileOffsets, experts + 1);
        Grow(ref gather, pairs);
        Grow(ref pairPos, pairs);
    }

    private bool Grow<T>(ref MemoryBuffer1D<T, Stride1D.Dense>? buffer, long length)
        where T : unmanaged
    {
        if (buffer is not null && buffer.Length >= length)
        {
            return false;
        }

        buffer?.Dispose();
        buffer = accelerator.Allocate1D<T>(Math.Max(1, length));
        return true;
    }
}
