using Qwen3Next.Checkpoint;

namespace Qwen3Next.Graph;

/// <summary>Finds a tensor by its module-local name under a prefix (<c>model.layers.3.self_attn.</c> in a checkpoint,
/// empty in a kernel golden case), so one loader serves both.</summary>
public sealed class TensorLookup(Func<string, TensorView> find, string prefix = "")
{
    public TensorView this[string localName] => find(prefix + localName);

    public TensorLookup Under(string more) => new(find, prefix + more);
}
