using ILGPU;
using ILGPU.Runtime;
using Qwen3Next.Backends;

namespace Qwen3Next.Ops.Attention;

/// <summary>
/// cos/sin of the RoPE angles on the device, <c>[positions, rotary_dim]</c> with each row [cos half | sin half].
/// Built on the host with exactly the reference's float32 math (angle = pos·inv_freq, MathF.Cos/Sin): device
/// sin/cos in fast-math mode lose accuracy at large angles (position up to 262144), and the cached keys must
/// match the reference. It grows by doubling, so the upload happens O(log positions) times per session, not per step.
/// </summary>
public sealed class RopeTable(Accelerator accelerator) : IDisposable
{
    private MemoryBuffer1D<float, Stride1D.Dense>? table;
    private int positions;
    private int rotaryDim;
    private float theta;

    /// <summary>The table covering positions [0, <paramref name="positionsNeeded"/>) for this shape.</summary>
    public ArrayView<float> Covering(GatedAttentionShape shape, int positionsNeeded, AcceleratorStream stream)
    {
        if (table is null || positions < positionsNeeded || rotaryDim != shape.RotaryDim || theta != shape.RopeTheta)
        {
            int count = Math.Max(1024, (int)Math.Min(int.MaxValue / 2, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)positionsNeeded)));
            var values = Build(shape, count);
            table?.Dispose();
            table = accelerator.Allocate1D<float>(values.Length);
            table.View.CopyFromCPU(stream, values);
            positions = count;
            rotaryDim = shape.RotaryDim;
            theta = shape.RopeTheta;
        }

        return table.View;
    }

    private static float[] Build(GatedAttentionShape shape, int count)
    {
        var inverseFrequency = GatedAttentionReference.InverseFrequencies(shape);
        int half = shape.RotaryDim / 2;
        var values = new float[Math.Max(1, (long)count * shape.RotaryDim)];
        for (int pos = 0; pos < count; pos++)
        {
            int row = pos * shape.RotaryDim;
            for (int f = 0; f < half; f++)
            {
                float angle = pos * inverseFrequency[f];
                values[row + f] = MathF.Cos(angle);
                values[row + half + f] = MathF.Sin(angle);
            }
        }

        return values;
    }

    public void Dispose() => table?.Dispose();
}
