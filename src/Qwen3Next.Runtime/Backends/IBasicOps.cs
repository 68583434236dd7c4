namespace Qwen3Next.Backends;

/// <summary>The generic ops every transformer needs.</summary>
public interface IBasicOps
{
    /// <summary><c>y[t] = table[tokens[t]]</c>, widened to float32.</summary>
    void Embed(ReadOnlySpan<int> tokens, DeviceWeight table, DeviceTensor y);

    /// <summary>RMSNorm over the last <paramref name="dim"/> values of each of <paramref name="rows"/> rows.
    /// Zero-centred uses <c>(1 + w)</c>, otherwise <c>w</c>. <paramref name="y"/> may be <paramref name="x"/>.</summary>
    void RmsNorm(DeviceTensor x, DeviceWeight weight, DeviceTensor y, int rows, int dim, float eps, bool zeroCentred);

    /// <summary><c>y[rows, W.Rows] = x[rows, W.Cols] · Wᵀ</c>.</summary>
    void MatMul(DeviceTensor x, DeviceWeight weight, DeviceTensor y, int rows);

    /// <summary><c>accumulator[i] += addend[i]</c> for the first <paramref name="length"/> values.</summary>
    void Add(DeviceTensor accumulator, DeviceTensor addend, long length);

    /// <summary>Index of the largest value of each row (lowest index on ties; NaN ignored; 0 when no value is above −∞).</summary>
    void ArgmaxRows(DeviceTensor x, int rows, int cols, Span<int> result);
}
