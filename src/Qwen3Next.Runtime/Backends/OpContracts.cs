namespace Qwen3Next.Backends;

/// <summary>
/// The host-side contract of every public op, checked the same way by every backend before anything is launched or
/// written: counts at least 1, shapes that agree, buffers long enough, weights of the right kind and size, nothing
/// disposed. A violation throws <see cref="ArgumentException"/> (<see cref="ArgumentOutOfRangeException"/> for counts
/// and ids) naming the argument, or <see cref="ObjectDisposedException"/>. Each check returns the backend claimed
/// for the calling thread (<see cref="BackendAccess.Enter"/>), so one line at the top of an op does both.
/// Only sizes are checked, never values: NaN and ±Inf activations are legal input and propagate.
/// </summary>
public static partial class OpContracts
{
    public static BackendAccess.Scope Embed(BackendAccess access, ReadOnlySpan<int> tokens, DeviceWeight table, DeviceTensor y)
    {
        Weight(table, nameof(table), matrix: true);
        Live(y, nameof(y));
        Count(tokens.Length, "tokens.Length");
        foreach (int id in tokens)
        {
            if ((uint)id >= (uint)table.Rows)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), id, $"Token id {id} is outside the vocabulary [0, {table.Rows}) of '{table.Name}'.");
            }
        }

        Holds(y, nameof(y), (long)tokens.Length * table.Cols, $"T·hidden = {tokens.Length}·{table.Cols}");
        return access.Enter();
    }

    public static BackendAccess.Scope RmsNorm(BackendAccess access, DeviceTensor x, DeviceWeight weight, DeviceTensor y, int rows, int dim, float eps)
    {
        Live(x, nameof(x));
        Live(y, nameof(y));
        Weight(weight, nameof(weight), matrix: false);
        Count(rows, nameof(rows));
        Count(dim, nameof(dim));
        Finite(eps, nameof(eps));
        Size(weight, nameof(weight), 1, dim);
        Holds(x, nameof(x), (long)rows * dim, $"rows·dim = {rows}·{dim}");
        Holds(y, nameof(y), (long)rows * dim, $"rows·dim = {rows}·{dim}");
        return access.Enter();
    }

    public static BackendAccess.Scope MatMul(BackendAccess access, DeviceTensor x, DeviceWeight weight, DeviceTensor y, int rows)
    {
        Live(x, nameof(x));
        Live(y, nameof(y));
        Weight(weight, nameof(weight), matrix: true);
        Count(rows, nameof(rows));
        Holds(x, nameof(x), (long)rows * weight.Cols, $"rows·in = {rows}·{weight.Cols} for '{weight.Name}'");
        Holds(y, nameof(y), (long)rows * weight.Rows, $"rows·out = {rows}·{weight.Rows} for '{weight.Name}'");
        return access.Enter();
    }

    public static BackendAccess.Scope Add(BackendAccess access, DeviceTensor accumulator, DeviceTensor addend, long length)
    {
        Live(accumulator, nameof(accumulator));
        Live(addend, nameof(addend));
        Count(length, nameof(length));
        Holds(accumulator, nameof(accumulator), length, "length");
        Holds(addend, nameof(addend), length, "length");
        return access.Enter();
    }

    public static BackendAccess.Scope ArgmaxRows(BackendAccess access, DeviceTensor x, int rows, int cols, int resultLength)
    {
        Live(x, nameof(x));
        Count(rows, nameof(rows));
        Count(cols, nameof(cols));
        Holds(x, nameof(x), (long)rows * cols, $"rows·cols = {rows}·{cols}");
        if (resultLength < rows)
        {
            throw new ArgumentException($"result holds {resultLength} ids but rows = {rows}.", "result");
        }

        return access.Enter();
    }

    public static BackendAccess.Scope Allocate(BackendAccess access, long length, long maxLength = long.MaxValue)
    {
        if (length < 0 || length > maxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"A buffer holds 0..{maxLength} floats on this backend.");
        }

        return access.Enter();
    }

    public static BackendAccess.Scope Download(BackendAccess access, DeviceTensor source, int destinationLength)
    {
        Live(source, nameof(source));
        Holds(source, nameof(source), destinationLength, "destination.Length");
        return access.Enter();
    }

    public static BackendAccess.Scope Copy(BackendAccess access, DeviceTensor source, long sourceOffset, DeviceTensor destination, long destinationOffset, long length)
    {
        Live(source, nameof(source));
        Live(destination, nameof(destination));
        NotNegative(sourceOffset, nameof(sourceOffset));
        NotNegative(destinationOffset, nameof(destinationOffset));
        NotNegative(length, nameof(length));
        Holds(source, nameof(source), sourceOffset + length, $"sourceOffset + length = {sourceOffset} + {length}");
        Holds(destination, nameof(destination), destinationOffset + length, $"destinationOffset + length = {destinationOffset} + {length}");
        return access.Enter();
    }

    public static BackendAccess.Scope Rule(BackendAccess access, GatedDeltaShape shape, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor g,
        DeviceTensor beta, DeviceTensor state, DeviceTensor o, float scale)
    {
        Count(shape.Tokens, "shape.Tokens");
        Heads(shape.KeyHeads, shape.ValueHeads, "shape.KeyHeads", "shape.ValueHeads");
        Count(shape.KeyDim, "shape.KeyDim");
        Count(shape.ValueDim, "shape.ValueDim");
        Finite(scale, nameof(scale));
        long t = shape.Tokens, qk = t * shape.KeyHeads * shape.KeyDim, vo = t * shape.ValueHeads * shape.ValueDim, gates = t * shape.ValueHeads;
        Tensor(q, nameof(q), qk, "T·Hk·Dk");
        Tensor(k, nameof(k), qk, "T·Hk·Dk");
        Tensor(v, nameof(v), vo, "T·Hv·Dv");
        Tensor(g, nameof(g), gates, "T·Hv");
        Tensor(beta, nameof(beta), gates, "T·Hv");
        Tensor(state, nameof(state), (long)shape.ValueHeads * shape.KeyDim * shape.ValueDim, "Hv·Dk·Dv");
        Tensor(o, nameof(o), vo, "T·Hv·Dv");
        return access.Enter();
    }

    public static BackendAccess.Scope GatedDeltaNet(BackendAccess access, GatedDeltaNetShape shape, int tokens, DeviceTensor qkvz, DeviceTensor ba,
        GatedDeltaNetWeights weights, LinearAttentionState state, DeviceTensor y)
    {
        Count(tokens, nameof(tokens));
        Heads(shape.KeyHeads, shape.ValueHeads, "shape.KeyHeads", "shape.ValueHeads");
        Count(shape.KeyDim, "shape.KeyDim");
        Count(shape.ValueDim, "shape.ValueDim");
        Count(shape.ConvKernel, "shape.ConvKernel");
        Finite(shape.Eps, "shape.Eps");
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(state);
        Tensor(qkvz, nameof(qkvz), (long)tokens * shape.QkvzWidth, "T·qkvz width");
        Tensor(ba, nameof(ba), (long)tokens * shape.BaWidth, "T·2·Hv");
        Tensor(y, nameof(y), (long)tokens * shape.ValueWidth, "T·Hv·Dv");
        Tensor(state.Conv, "state.Conv", (long)shape.ConvDim * shape.ConvKernel, "conv_dim·K");
        Tensor(state.Recurrent, "state.Recurrent", (long)shape.ValueHeads * shape.KeyDim * shape.ValueDim, "Hv·Dk·Dv");
        MixerWeights(shape, weights);
        return access.Enter();
    }

    public static BackendAccess.Scope GatedAttention(BackendAccess access, GatedAttentionShape shape, int tokens, DeviceTensor qg, DeviceTensor k,
        DeviceTensor v, DeviceWeight qNorm, DeviceWeight kNorm, KvCache cache, DeviceTensor y)
    {
        Count(tokens, nameof(tokens));
        AttentionShape(shape);

        ArgumentNullException.ThrowIfNull(cache);
        Tensor(qg, nameof(qg), (long)tokens * shape.QueryGateWidth, "T·2·Hq·D");
        Tensor(k, nameof(k), (long)tokens * shape.KeyValueWidth, "T·Hkv·D");
        Tensor(v, nameof(v), (long)tokens * shape.KeyValueWidth, "T·Hkv·D");
        Tensor(y, nameof(y), (long)tokens * shape.OutputWidth, "T·Hq·D");
        Weight(qNorm, nameof(qNorm), matrix: false);
        Size(qNorm, nameof(qNorm), 1, shape.HeadDim);
        Weight(kNorm, nameof(kNorm), matrix: false);
        Size(kNorm, nameof(kNorm), 1, shape.HeadDim);
        long cacheLength = cache.Element.Words((long)shape.KeyValueHeads * cache.Capacity * shape.HeadDim);
        Tensor(cache.Keys, "cache.Keys", cacheLength, "Hkv·capacity·D");
        Tensor(cache.Values, "cache.Values", cacheLength, "Hkv·capacity·D");
        KvCapacity.Check(cache, tokens);
        return access.Enter();
    }

    /// <summary>The gated-delta mixer's conv, A_log, dt_bias and norm weights against the shape.</summary>
    private static void MixerWeights(GatedDeltaNetShape shape, GatedDeltaNetWeights weights)
    {
        Weight(weights.Conv, "weights.Conv", matrix: true);
        Size(weights.Conv, "weights.Conv", shape.ConvDim, shape.ConvKernel);
        Weight(weights.ALog, "weights.ALog", matrix: false);
        Size(weights.ALog, "weights.ALog", 1, shape.ValueHeads);
        Weight(weights.DtBias, "weights.DtBias", matrix: false);
        Size(weights.DtBias, "weights.DtBias", 1, shape.ValueHeads);
        Weight(weights.Norm, "weights.Norm", matrix: false);
        Size(weights.Norm, "weights.Norm", 1, shape.ValueDim);
    }

    /// <summary>Head counts, head and rotary widths, eps and RoPE theta of an attention shape (one sequence or a batch).</summary>
    private static void AttentionShape(GatedAttentionShape shape)
    {
        Heads(shape.KeyValueHeads, shape.QueryHeads, "shape.KeyValueHeads", "shape.QueryHeads");
        Count(shape.HeadDim, "shape.HeadDim");
        if (shape.RotaryDim < 0 || shape.RotaryDim > shape.HeadDim || shape.RotaryDim % 2 != 0)
        {
            throw new ArgumentOutOfRangeException("shape.RotaryDim", shape.RotaryDim, $"The rotary width must be even and in [0, {shape.HeadDim}].");
        }

        Finite(shape.Eps, "shape.Eps");
        if (!float.IsFinite(shape.RopeTheta) || shape.RopeTheta <= 0)
        {
            throw new ArgumentOutOfRangeException("shape.RopeTheta", shape.RopeTheta, "RoPE theta must be finite and positive.");
        }
    }

    public static BackendAccess.Scope MoeBlock(BackendAccess access, MoeShape shape, int tokens, DeviceTensor x, MoeWeights weights, DeviceTensor y,
        MoeRouting? routing)
    {
        Count(tokens, nameof(tokens));
        Count(shape.Experts, "shape.Experts");
        if (shape.TopK < 1 || shape.TopK > shape.Experts)
        {
            throw new ArgumentOutOfRangeException("shape.TopK", shape.TopK, $"top-k must be in [1, E = {shape.Experts}].");
        }

        Count(shape.Hidden, "shape.Hidden");
        Count(shape.ExpertIntermediate, "shape.ExpertIntermediate");
        Count(shape.SharedIntermediate, "shape.SharedIntermediate");
        ArgumentNullException.ThrowIfNull(weights);
        Tensor(x, nameof(x), (long)tokens * shape.Hidden, "T·H");
        Tensor(y, nameof(y), (long)tokens * shape.Hidden, "T·H");
        if (ReferenceEquals(x, y))
        {
            throw new ArgumentException("y must not alias x: the block reads x while it writes y.", nameof(y));
        }

        MatrixOf(weights.Router, "weights.Router", shape.Experts, shape.Hidden);
        MatrixOf(weights.SharedGate, "weights.SharedGate", shape.SharedIntermediate, shape.Hidden);
        MatrixOf(weights.SharedUp, "weights.SharedUp", shape.SharedIntermediate, shape.Hidden);
        MatrixOf(weights.SharedDown, "weights.SharedDown", shape.Hidden, shape.SharedIntermediate);
        MatrixOf(weights.SharedExpertGate, "weights.SharedExpertGate", 1, shape.Hidden);
        ArgumentNullException.ThrowIfNull(weights.Experts, "weights.Experts");
        ObjectDisposedException.ThrowIf(weights.Experts.IsDisposed, weights.Experts);
        if (routing is not null && (routing.Logits.Length < (long)tokens * shape.Experts || routing.Selected.Length < (long)tokens * shape.TopK
            || routing.Weights.Length < (long)tokens * shape.TopK))
        {
            throw new ArgumentException($"routing was created for fewer than T = {tokens} tokens of E = {shape.Experts}, k = {shape.TopK}.", nameof(routing));
        }

        return access.Enter();
    }

    private static void Tensor(DeviceTensor tensor, string name, long needed, string what)
    {
        Live(tensor, name);
        Holds(tensor, name, needed, what);
    }

    private static void Live(DeviceTensor tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (tensor.IsDisposed)
        {
            throw new ObjectDisposedException(name, $"Tensor '{name}' was disposed.");
        }
    }

    private static void Weight(DeviceWeight weight, string name, bool matrix)
    {
        ArgumentNullException.ThrowIfNull(weight, name);
        if (weight.IsDisposed)
        {
            throw new ObjectDisposedException(name, $"Weight '{weight.Name}' ({name}) was disposed.");
        }

        if (weight.IsMatrix != matrix)
        {
            throw new ArgumentException($"Weight '{weight.Name}' is a {(weight.IsMatrix ? "bf16 matrix" : "float32 vector")}; this op needs a {(matrix ? "bf16 matrix" : "float32 vector")}.", name);
        }
    }

    private static void MatrixOf(DeviceWeight weight, string name, int rows, int cols)
    {
        Weight(weight, name, matrix: true);
        Size(weight, name, rows, cols);
    }

    private static void Size(DeviceWeight weight, string name, int rows, int cols)
    {
        if (weight.Rows != rows || weight.Cols != cols)
        {
            throw new ArgumentException($"Weight '{weight.Name}' is [{weight.Rows}, {weight.Cols}]; the shape needs [{rows}, {cols}].", name);
        }
    }

    private static void Holds(DeviceTensor tensor, string name, long needed, string what)
    {
        if (tensor.Length < needed)
        {
            throw new ArgumentException($"{name} holds {tensor.Length} floats but {what} = {needed} are needed.", name);
        }
    }

    private static void Count(long value, string name)
    {
        if (value < 1)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1.");
        }
    }

    private static void NotNegative(long value, string name)
    {
        if (value < 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must not be negative.");
        }
    }

    private static void Finite(float value, string name)
    {
        if (!float.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number.");
        }
    }

    private static void Heads(int fewer, int more, string fewerName, string moreName)
    {
        Count(fewer, fewerName);
        Count(more, moreName);
        if (more % fewer != 0)
        {
            throw new ArgumentException($"{moreName} = {more} is not a multiple of {fewerName} = {fewer}.", moreName);
        }
    }
}
