namespace Qwen3Next.Cuda;

/// <summary>A device address (<c>CUdeviceptr</c>). The host-memory drivers hand out host addresses here, so a
/// pointer means the same thing to every driver: an address inside one of its allocations, or null.</summary>
internal readonly record struct DevicePointer(ulong Address)
{
    public static DevicePointer Null => default;

    public bool IsNull => Address == 0;

    /// <summary>The address <paramref name="bytes"/> further on.</summary>
    public DevicePointer Offset(long bytes) => new(checked((ulong)((long)Address + bytes)));

    public override string ToString() => $"0x{Address:x}";
}

/// <summary>A stream (<c>CUstream</c>); work on one stream runs in order.</summary>
internal readonly record struct StreamHandle(ulong Value);

/// <summary>An event (<c>CUevent</c>): a point in a stream that other streams and the host can wait for.</summary>
internal readonly record struct EventHandle(ulong Value);

/// <summary>A loaded PTX module (<c>CUmodule</c>).</summary>
internal readonly record struct KernelModuleHandle(ulong Value);

/// <summary>One kernel of a loaded module (<c>CUfunction</c>).</summary>
internal readonly record struct FunctionHandle(ulong Value);

/// <summary>The work captured from a stream (<c>CUgraph</c>); instantiate it to launch it.</summary>
internal readonly record struct GraphHandle(ulong Value);

/// <summary>An instantiated graph (<c>CUgraphExec</c>), launched as one unit on a stream.</summary>
internal readonly record struct GraphExecHandle(ulong Value);
