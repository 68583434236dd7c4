using System.Diagnostics;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Runtime;
using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Cuda;
using Qwen3Next.Device;

namespace Qwen3Next.Streaming;

/// <summary>
/// Non-expert layer weights for budgets that cannot keep them all resident: each layer's bf16 matrices stay in
/// pinned host memory and are copied into one of two device staging buffers — the running layer's and the next
/// layer's, which the copy stream prefetches while the current layer computes. On CUDA the streams are ordered by
/// events (the prefetch waits for the compute stream to leave the buffer; the compute stream waits for the copy);
/// on the CPU accelerator copies are synchronous. Small vectors (norms, gates) stay resident.
/// </summary>
public sealed partial class LayerWeightStreaming : IDisposable
{
    private readonly ComputeDevice device;
    private readonly Dictionary<int, List<StagedMatrix>> layers = [];
    private readonly Dictionary<int, long> layerElements = [];
    private readonly MemoryBuffer1D<ushort, Stride1D.Dense>[] stages;
    private readonly int[] stageLayer = [-1, -1];
    private readonly CudaEvent?[] copied;
    private readonly CudaEvent?[] released;
    private int current = -1;

    public LayerWeightStreaming(ComputeDevice device, long stageElements, StreamingStatistics statistics)
    {
        this.device = device;
        Statistics = statistics;
        StageElements = stageElements;
        stages = [device.Accelerator.Allocate1D<ushort>(stageElements), device.Accelerator.Allocate1D<ushort>(stageElements)];
        copied = device.IsCuda ? [CudaEvent.Create(device, false), CudaEvent.Create(device, false)] : [null, null];
        released = device.IsCuda ? [CudaEvent.Create(device, false), CudaEvent.Create(device, false)] : [null, null];
    }

    public long StageElements { get; }

    public StreamingStatistics Statistics { get; }

    /// <summary>The decoder layer a checkpoint tensor belongs to, or null (embedding, head, kernel-case names).</summary>
    public static int? LayerOf(string tensorName)
    {
        var match = LayerName().Match(tensorName);
        return match.Success && !tensorName.Contains(".mlp.experts.", StringComparison.Ordinal) ? int.Parse(match.Groups[1].Value) : null;
    }

    /// <summary>Keeps a bf16 matrix of <paramref name="layer"/> in pinned host memory; the returned weight reads its
    /// staged copy.</summary>
    public IlgpuWeight Register(int layer, string name, int rows, int cols, ReadOnlySpan<ushort> bits)
    {
        long offset = layerElements.GetValueOrDefault(layer);
        if (offset + bits.Length > StageElements)
        {
            throw new InvalidOperationException($"Layer {layer}'s matrices exceed the staging buffer of {StageElements} values at '{name}'.");
        }

        var host = PinnedHostBuffer<ushort>.Allocate(device, bits.Length);
        bits.CopyTo(host.Slice(0, bits.Length));
        var matrix = new StagedMatrix(this, layer, offset, host);
        layerElements[layer] = offset + bits.Length;
        (layers.TryGetValue(layer, out var list) ? list : layers[layer] = []).Add(matrix);
        return new IlgpuWeight(name, rows, cols, matrix);
    }

    public void Stage(int layer, int nextLayer)
    {
        if (!layers.ContainsKey(layer))
        {
            return;
        }

        // The buffer the previous layer used becomes free once the compute stream has passed this point.
        if (current >= 0)
        {
            released[current]?.Record(device.Compute);
        }

        int s = Array.IndexOf(stageLayer, layer);
        if (s < 0)
        {
            s = current < 0 ? 0 : 1 - current;
            Load(layer, s);
        }

        WaitForCopy(s);
        current = s;
        if (nextLayer != layer && layers.ContainsKey(nextLayer) && Array.IndexOf(stageLayer, nextLayer) < 0)
        {
            Load(nextLayer, 1 - s);
        }
    }

    public void Dispose()
    {
        foreach (var matrix in layers.Values.SelectMany(l => l))
        {
            matrix.Host.Dispose();
        }

        foreach (var e in copied.Concat(released))
        {
            e?.Dispose();
        }

        stages[0].Dispose();
        stages[1].Dispose();
    }

    private void Load(int layer, int stage)
    {
        released[stage]?.MakeWait(device.Copy);
        foreach (var m in layers[layer])
        {
            m.Host.CopyToAsync(stages[stage].View.SubView(m.Offset, m.Host.Length), device.Copy);
            Statistics.PrefetchedBytes += 2 * m.Host.Length;
        }

        copied[stage]?.Record(device.Copy);
        stageLayer[stage] = layer;
    }

    private void WaitForCopy(int stage)
    {
        if (copied[stage] is { } e)
        {
            e.MakeWait(device.Compute);
            return;
        }

        var wait = Stopwatch.StartNew();
        device.Copy.Synchronize();
        Statistics.StallSeconds += wait.Elapsed.TotalSeconds;
    }

    [GeneratedRegex(@"^model\.layers\.(\d+)\.")]
    private static partial Regex LayerName();

    private sealed class StagedMatrix(LayerWeightStreaming owner, int layer, long offset, PinnedHostBuffer<ushort> host) : IStagedBits
    {
        public long Offset { get; } = offset;

        public long ElementOffset => Offset;

        public PinnedHostBuffer<ushort> Host { get; } = host;

        public ArrayView<ushort> Current
        {
            get
            {
                int s = owner.current;
                if (s < 0 || owner.stageLayer[s] != layer)
                {
                    throw new InvalidOperationException($"Layer {layer}'s weights are not staged (the model must call BeforeLayer).");
                }

                return owner.stages[s].View.SubView(Offset, Host.Length);
            }
        }
    }
}
