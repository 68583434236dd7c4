using System.Collections.Concurrent;
using Qwen3Next.Graph;

namespace Qwen3Next.Native;

/// <summary>A batch behind a C handle, with each sequence's logits after its last step kept for qn_batch_logits.</summary>
internal sealed class NativeBatch(BatchSession session)
{
    public BatchSession Session { get; } = session;

    /// <summary>Sequence id → logits after its last step (removed when the sequence finishes).</summary>
    public ConcurrentDictionary<long, float[]> Logits { get; } = new();
}
