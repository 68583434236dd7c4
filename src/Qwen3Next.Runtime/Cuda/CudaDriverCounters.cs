namespace Qwen3Next.Cuda;

/// <summary>Which way a copy moves bytes.</summary>
public enum CopyDirection
{
    HostToDevice,
    DeviceToHost,
    DeviceToDevice,
}

/// <summary>
/// Driver calls made so far, counted by the driver itself (one per call, whether it ran at once, was captured into a
/// graph or, in signature-check mode, only checked), so <c>--stats</c> can report launches, allocations and host
/// synchronisations per token. A graph launch counts once, not once per captured kernel: that is the call the host makes.
/// </summary>
public sealed class CudaDriverCounters
{
    private readonly long[] copies = new long[3];
    private readonly long[] copiedBytes = new long[3];

    /// <summary><c>cuLaunchKernel</c> calls.</summary>
    public long Launches { get; private set; }

    /// <summary><c>cuGraphLaunch</c> calls.</summary>
    public long GraphLaunches { get; private set; }

    /// <summary><c>cuMemsetD8Async</c> and <c>cuMemsetD32Async</c> calls.</summary>
    public long Memsets { get; private set; }

    /// <summary>Device allocations (<c>cuMemAlloc</c>).</summary>
    public long Allocations { get; private set; }

    /// <summary>Device frees (<c>cuMemFree</c>; on a GPU each one waits for the device).</summary>
    public long Frees { get; private set; }

    /// <summary>Page-locked host allocations (<c>cuMemHostAlloc</c>).</summary>
    public long HostAllocations { get; private set; }

    /// <summary>Calls that block the host until the device has caught up (stream and event synchronisation).</summary>
    public long HostSynchronizations { get; private set; }

    public long Copies(CopyDirection direction) => copies[(int)direction];

    public long CopiedBytes(CopyDirection direction) => copiedBytes[(int)direction];

    internal void CountLaunch() => Launches++;

    internal void CountGraphLaunch() => GraphLaunches++;

    internal void CountMemset() => Memsets++;

    internal void CountAllocation() => Allocations++;

    internal void CountFree() => Frees++;

    internal void CountHostAllocation() => HostAllocations++;

    internal void CountHostSynchronization() => HostSynchronizations++;

    internal void CountCopy(CopyDirection direction, long bytes)
    {
        copies[(int)direction]++;
        copiedBytes[(int)direction] += bytes;
    }

    /// <summary>The calls made since <paramref name="earlier"/> (a <see cref="Snapshot"/> of these counters).</summary>
    public CudaDriverCounters Since(CudaDriverCounters earlier)
    {
        var d = new CudaDriverCounters
        {
            Launches = Launches - earlier.Launches,
            GraphLaunches = GraphLaunches - earlier.GraphLaunches,
            Memsets = Memsets - earlier.Memsets,
            Allocations = Allocations - earlier.Allocations,
            Frees = Frees - earlier.Frees,
            HostAllocations = HostAllocations - earlier.HostAllocations,
            HostSynchronizations = HostSynchronizations - earlier.HostSynchronizations,
        };
        for (int i = 0; i < copies.Length; i++)
        {
            d.copies[i] = copies[i] - earlier.copies[i];
            d.copiedBytes[i] = copiedBytes[i] - earlier.copiedBytes[i];
        }

        return d;
    }

    /// <summary>A copy of the counts now, which later calls do not change.</summary>
    public CudaDriverCounters Snapshot() => Since(new CudaDriverCounters());

    public override string ToString() =>
        $"{Launches} launches, {GraphLaunches} graph launches, {Memsets} memsets, {Allocations} allocations, {Frees} frees, "
        + $"{HostSynchronizations} host synchronisations, copies H2D {Copies(CopyDirection.HostToDevice)} ({CopiedBytes(CopyDirection.HostToDevice)} B), "
        + $"D2H {Copies(CopyDirection.DeviceToHost)} ({CopiedBytes(CopyDirection.DeviceToHost)} B), D2D {Copies(CopyDirection.DeviceToDevice)} ({CopiedBytes(CopyDirection.DeviceToDevice)} B)";
}
