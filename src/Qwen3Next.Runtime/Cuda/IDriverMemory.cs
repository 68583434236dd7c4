namespace Qwen3Next.Cuda;

/// <summary>
/// The memory behind a <see cref="HostMemoryDriver"/>: allocations recorded so every access can be checked, and the
/// byte moves of copies and memsets. Addresses are host addresses on both sides (unified addressing). Plain host
/// memory (<see cref="HostAllocationTable"/>) or the PTX emulator's address space (which also tracks which bytes
/// were ever written, for its uninitialised-read check).
/// </summary>
internal interface IDriverMemory : IDisposable
{
    int Count { get; }

    HostAllocation Allocate(long bytes, HostAllocationKind kind, string call, string subject);

    /// <summary>Frees the allocation starting at <paramref name="start"/>, which must be live and one of <paramref name="kinds"/>.</summary>
    void Free(ulong start, string call, string subject, params HostAllocationKind[] kinds);

    /// <summary>The live allocation holding all of <c>[address, address + bytes)</c>, or null.</summary>
    HostAllocation? Find(ulong address, long bytes);

    /// <summary>The allocation holding the range; <see cref="CudaDriverException"/> naming the range otherwise.</summary>
    HostAllocation Require(ulong address, long bytes, bool deviceVisible, string call, string subject);

    /// <summary>Moves <paramref name="bytes"/> from <paramref name="source"/> to <paramref name="destination"/> (either may be
    /// ordinary host memory the driver does not own; checks were done by the caller).</summary>
    void Copy(ulong destination, ulong source, long bytes);

    void Fill8(ulong destination, byte value, long bytes);

    void Fill32(ulong destination, uint value, long count);
}
