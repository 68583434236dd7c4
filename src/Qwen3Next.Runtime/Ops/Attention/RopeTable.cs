using Qwen3Next.Backends;

namespace Qwen3Next.Ops.Attention;

/// <summary>
/// The one RoPE table every backend reads (no backend computes powf/cosf on the device, so all agree at any position):
/// <c>[rows, rotary_dim]</c>, row p = [cos(p·f_0) … cos(p·f_{R/2−1}) | sin(p·f_0) … sin(p·f_{R/2−1})]. The frequencies and
/// the angle are Hugging Face's float32 values (<c>inv_freq = 1/θ^(2i/R)</c>, <c>angle = fl32(p·inv_freq)</c>), because
/// the goldens were computed from them: at position 5000 a float64 angle would differ from HF's by up to 2.4e-4 rad.
/// cos and sin of that float32 angle are evaluated in float64 and rounded once, so they are correctly rounded.
/// Built on the host, grown by doubling (at least 1024 rows) to cover the largest position used.
/// </summary>
public static class RopeTable
{
    public const int MinRows = 1024;

    /// <summary>inv_freq[i] = θ^(−2i/R) in float32, as HF computes it (float exponent, float pow, float reciprocal).</summary>
    public static float[] InverseFrequencies(int rotaryDim, float theta)
    {
        var f = new float[rotaryDim / 2];
        for (int i = 0; i < f.Length; i++)
        {
            f[i] = 1f / MathF.Pow(theta, 2f * i / rotaryDim);
        }

        return f;
    }

    /// <summary>Rows to allocate for positions [0, <paramref name="positionsNeeded"/>): a power of two, at least <see cref="MinRows"/>.</summary>
    public static int RowsFor(int positionsNeeded)
        => (int)Math.Max(MinRows, Math.Min(SequenceBatch.MaxPosition, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, positionsNeeded))));

    /// <summary>The table for positions [0, <paramref name="rows"/>).</summary>
    public static float[] Build(int rotaryDim, float theta, int rows)
    {
        var inverseFrequency = InverseFrequencies(rotaryDim, theta);
        int half = rotaryDim / 2;
        var values = new float[Math.Max(1, (long)rows * rotaryDim)];
        for (int pos = 0; pos < rows; pos++)
        {
            long row = (long)pos * rotaryDim;
            for (int f = 0; f < half; f++)
            {
                float angle = pos * inverseFrequency[f];
                values[row + f] = (float)Math.Cos(angle);
                values[row + half + f] = (float)Math.Sin(angle);
            }
        }

        return values;
    }

    /// <summary>Rotate-half RoPE of the first <paramref name="rotaryDim"/> values at <paramref name="position"/>, reading
    /// cos/sin from <paramref name="table"/>: dim i pairs with i + R/2.</summary>
    public static void Rotate(Span<float> x, int rotaryDim, int position, ReadOnlySpan<float> table)
    {
        int half = rotaryDim / 2;
        var row = table.Slice(position * rotaryDim, rotaryDim);
        for (int i = 0; i < half; i++)
        {
            float cos = row[i], sin = row[half + i];
            float a = x[i], b = x[i + half];
            x[i] = (a * cos) - (b * sin);
            x[i + half] = (b * cos) + (a * sin);
        }
    }
}

/// <summary>A host copy of <see cref="RopeTable"/> for one (rotary_dim, θ), grown on demand; the reference reads it directly
/// and the device backends upload it when it grows.</summary>
public sealed class HostRopeTable
{
    private float[] values = [];

    public int RotaryDim { get; private set; } = -1;

    public float Theta { get; private set; }

    public int Rows { get; private set; }

    /// <summary>Version of the table, bumped on every rebuild (a device copy is stale when its version differs).</summary>
    public int Version { get; private set; }

    /// <summary>The table covering positions [0, <paramref name="positionsNeeded"/>) for <paramref name="shape"/>.</summary>
    public float[] Covering(GatedAttentionShape shape, int positionsNeeded)
    {
        if (Rows < positionsNeeded || RotaryDim != shape.RotaryDim || Theta != shape.RopeTheta)
        {
            int rows = RopeTable.RowsFor(Math.Max(positionsNeeded, RotaryDim == shape.RotaryDim && Theta == shape.RopeTheta ? Rows : 0));
            values = RopeTable.Build(shape.RotaryDim, shape.RopeTheta, rows);
            Rows = rows;
            RotaryDim = shape.RotaryDim;
            Theta = shape.RopeTheta;
            Version++;
        }

        return values;
    }
}
