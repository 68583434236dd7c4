namespace Qwen3Next.PtxEmulator.Model;

/// <summary>One resource of the H200 a launch can be limited by.</summary>
public enum BoundKind
{
    /// <summary>Unique bytes read and written over the achievable HBM bandwidth.</summary>
    Dram,

    /// <summary>Every 32-byte sector requested (re-reads included) over L2 bandwidth.</summary>
    L2,

    /// <summary>Shared-memory wavefronts (one per request plus one per bank-conflict replay).</summary>
    Shared,

    /// <summary>Warp instructions over the schedulers' issue rate.</summary>
    Issue,

    Fp32,
    Fp64,
    Int,
    Sfu,
    Conversion,
    Shuffle,
    Lsu,
    Tensor,

    /// <summary>Dependent global-load round trips: the slowest warp's chain, or all chains over the warps
    /// occupancy lets run at once.</summary>
    Latency,

    /// <summary>The floor of any launch.</summary>
    Launch,
}

/// <summary>The time one resource needs for a launch, with how it was computed (for the report).</summary>
public sealed record ModelBound(BoundKind Kind, double Seconds, string Detail)
{
    public override string ToString() => $"{Kind}: {Seconds * 1e6:F2} µs ({Detail})";
}

/// <summary>
/// The roofline of some work on the H200: its bytes at peak HBM bandwidth, its CUDA-core FLOPs at the FP32 peak
/// and its tensor FLOPs at the dense bf16 peak; the slowest of the three is the best any kernel could do.
/// </summary>
public sealed record Roofline(double Bytes, double CudaCoreFlops, double TensorFlops)
{
    /// <summary>An op's nominal work (its workload's bytes and FLOPs), on tensor cores or CUDA cores.</summary>
    public static Roofline ForOp(double bytes, double flops, bool tensorCores)
        => tensorCores ? new Roofline(bytes, 0, flops) : new Roofline(bytes, flops, 0);

    public double Flops => CudaCoreFlops + TensorFlops;

    public double Seconds(H200Spec spec)
        => Math.Max(Bytes / spec.HbmPeakBytesPerSecond, Math.Max(CudaCoreFlops / spec.Fp32PeakFlops, TensorFlops / spec.TensorPeakFlops));

    public Roofline Add(Roofline other) => new(Bytes + other.Bytes, CudaCoreFlops + other.CudaCoreFlops, TensorFlops + other.TensorFlops);
}
