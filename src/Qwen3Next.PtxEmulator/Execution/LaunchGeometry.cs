namespace Qwen3Next.PtxEmulator.Execution;

/// <summary>A CUDA <c>dim3</c>.</summary>
public readonly record struct Dim3(int X, int Y = 1, int Z = 1)
{
    public static implicit operator Dim3(int x) => new(x);

    public long Count => (long)X * Y * Z;

    public override string ToString() => $"({X}, {Y}, {Z})";
}

/// <summary>Grid, block and dynamic shared memory of one launch.</summary>
public readonly record struct LaunchGeometry(Dim3 Grid, Dim3 Block, int DynamicSharedBytes = 0)
{
    /// <summary>sm_90 limits: 1024 threads per block, 227 KiB of shared memory per block, grid y/z ≤ 65535.</summary>
    public const int MaxThreads = 1024;
    public const int MaxSharedBytes = 227 * 1024;

    internal void Validate(Decoding.DecodedKernel kernel)
    {
        if (Grid.X < 1 || Grid.Y < 1 || Grid.Z < 1 || Grid.Y > 65535 || Grid.Z > 65535)
        {
            throw new PtxLaunchException($"{kernel.Name}: grid {Grid} is outside 1..2^31-1 x 1..65535 x 1..65535");
        }

        if (Block.X < 1 || Block.Y < 1 || Block.Z < 1 || Block.Z > 64 || Block.Count > MaxThreads)
        {
            throw new PtxLaunchException($"{kernel.Name}: block {Block} has {Block.Count} threads; 1..{MaxThreads} allowed (z ≤ 64)");
        }

        if (kernel.MaxThreads > 0 && Block.Count > kernel.MaxThreads)
        {
            throw new PtxLaunchException($"{kernel.Name}: block {Block} has {Block.Count} threads but the kernel declares .maxntid {kernel.MaxThreads}");
        }

        if (DynamicSharedBytes < 0 || kernel.DynamicSharedOffset + DynamicSharedBytes > MaxSharedBytes)
        {
            throw new PtxLaunchException(
                $"{kernel.Name}: {kernel.StaticSharedBytes} B static + {DynamicSharedBytes} B dynamic shared memory exceeds {MaxSharedBytes} B per block");
        }
    }
}
