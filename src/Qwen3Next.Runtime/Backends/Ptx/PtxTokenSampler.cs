using Qwen3Next.Cuda;
using Qwen3Next.Graph;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Backends.Ptx;

/// <summary>
/// <c>sample_rows</c> over logits the ptx backend holds: the kernel writes one id per row into a small device buffer
/// and only those ids come back (one copy and one host synchronisation per call). Each row draws from its own counter,
/// which lives on the device and advances with every draw.
/// </summary>
internal sealed class PtxTokenSampler : DeviceTokenSampler
{
    private readonly PtxBackend backend;
    private readonly SamplingOptions options;
    private readonly DeviceBuffer<long> counters;
    private readonly DeviceBuffer<int> ids;
    private readonly int maxRows;

    public PtxTokenSampler(PtxBackend backend, SamplingOptions options, int maxRows)
    {
        this.backend = backend;
        this.options = options;
        this.maxRows = maxRows;
        counters = backend.AllocateBuffer<long>(maxRows, "the sampler's draw counters");
        try
        {
            ids = backend.AllocateBuffer<int>(maxRows, "the sampled ids");
            backend.Driver.MemsetD8Async(counters.Span.Address, 0, counters.Span.ByteLength, backend.Stream, "the sampler's draw counters");
        }
        catch
        {
            counters.Dispose();
            throw;
        }
    }

    /// <summary>Whether <see cref="PtxBasicOps.SampleRows"/> implements <paramref name="options"/>: greedy, or top-k in
    /// [1, <see cref="PtxBasicOps.SampleMaxTopK"/>] (any temperature and top-p).</summary>
    public static bool Supports(SamplingOptions options) => options.IsGreedy || options.TopK is >= 1 and <= PtxBasicOps.SampleMaxTopK;

    public override void Launch(DeviceTensor logits, int rows, int vocab)
    {
        using var use = backend.Access.Enter();
        RequireRows(rows);
        backend.PtxBasic.SampleRows(ids.Span, PtxBackend.T(logits).Span, counters.Span, options.Seed, rows, vocab, options.Temperature, options.TopK,
            options.TopP);
    }

    public override void ReadBack(int rows, Span<int> result)
    {
        using var use = backend.Access.Enter();
        RequireRows(rows);
        if (result.Length < rows)
        {
            throw new ArgumentException($"result holds {result.Length} ids; {rows} are needed.", nameof(result));
        }

        backend.CopyToHost(ids.Span.Slice(0, rows), result[..rows]);
        backend.Synchronize();
    }

    private void RequireRows(int rows)
    {
        if (rows < 1 || rows > maxRows)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"The sampler serves 1 to {maxRows} rows; {rows} were given.");
        }
    }

    public override void Dispose()
    {
        lock (backend.Access.Gate)
        {
            ids.Dispose();
            counters.Dispose();
        }
    }
}
