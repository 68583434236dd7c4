namespace Qwen3Next.Cuda;

/// <summary>A CUDA grid or block shape (<c>dim3</c>).</summary>
public readonly record struct LaunchDims(int X, int Y = 1, int Z = 1)
{
    public static implicit operator LaunchDims(int x) => new(x);

    public long Count => (long)X * Y * Z;

    public override string ToString() => Y == 1 && Z == 1 ? $"{X}" : Z == 1 ? $"({X}, {Y})" : $"({X}, {Y}, {Z})";
}

/// <summary>Everything a launch needs besides the arguments: grid, block and dynamic shared memory in bytes.</summary>
public readonly record struct LaunchConfig(LaunchDims Grid, LaunchDims Block, int DynamicSharedBytes = 0)
{
    /// <summary>Dynamic shared memory one block may opt into on sm_90 (227 KiB).</summary>
    public const int MaxDynamicSharedBytes = 227 * 1024;

    /// <summary>Limits of every sm_90 launch; <see cref="ArgumentException"/> naming the kernel otherwise.</summary>
    public void Validate(string kernel)
    {
        if (Grid.X < 1 || Grid.Y < 1 || Grid.Z < 1 || Grid.Y > 65535 || Grid.Z > 65535)
        {
            throw new ArgumentException($"{kernel}: grid {Grid} is outside 1..2^31-1 x 1..65535 x 1..65535.");
        }

        if (Block.X < 1 || Block.Y < 1 || Block.Z < 1 || Block.Count > 1024)
        {
            throw new ArgumentException($"{kernel}: block {Block} has {Block.Count} threads; 1..1024 allowed.");
        }

        if (DynamicSharedBytes < 0 || DynamicSharedBytes > MaxDynamicSharedBytes)
        {
            throw new ArgumentException($"{kernel}: {DynamicSharedBytes} bytes of dynamic shared memory; at most {MaxDynamicSharedBytes} on sm_90.");
        }
    }

    public override string ToString() => $"grid {Grid}, block {Block}, {DynamicSharedBytes} B dynamic smem";
}
