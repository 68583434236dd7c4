using Qwen3Next.Graph;

namespace Qwen3Next.Native;

/// <summary>A session behind a C handle, with the logits of its last step kept for qn_session_logits.</summary>
internal sealed class NativeSession(Qwen3NextModel model, InferenceSession session)
{
    public Qwen3NextModel Model { get; } = model;

    public InferenceSession Session { get; } = session;

    public float[]? LastLogits { get; set; }
}
