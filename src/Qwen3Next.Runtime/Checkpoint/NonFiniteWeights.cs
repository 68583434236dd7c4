using System.Numerics;
using System.Runtime.InteropServices;

namespace Qwen3Next.Checkpoint;

/// <summary>A tensor holding NaN or ±Inf: how many, and the first one.</summary>
public sealed record NonFiniteTensor(string Name, string File, long Count, long ElementCount, long FirstIndex, float FirstValue)
{
    public override string ToString()
        => $"{Name}: {Count:N0} of {ElementCount:N0} values are NaN or ±Inf (first: {FirstValue} at index {FirstIndex:N0}) in {File}";
}

/// <summary>
/// Scans checkpoint tensors for NaN and ±Inf (one bad weight makes every logit NaN). BF16 and F16 are tested on
/// their exponent bits (all ones), vectorised, so the scan runs at memory speed; integer tensors are skipped.
/// </summary>
public static class NonFiniteWeights
{
    public static IReadOnlyList<NonFiniteTensor> Scan(IEnumerable<TensorView> tensors)
    {
        var found = new List<NonFiniteTensor>();
        Parallel.ForEach(tensors, view =>
        {
            if (Scan(view) is { } bad)
            {
                lock (found)
                {
                    found.Add(bad);
                }
            }
        });
        return found.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>The tensor's non-finite values, or null when all are finite (or it is not floating-point).</summary>
    public static NonFiniteTensor? Scan(TensorView view) => view.DType switch
    {
        DType.BF16 => ScanBits(view, MemoryMarshal.Cast<byte, ushort>(view.Bytes), 0x7F80, bits => BitConverter.Int32BitsToSingle(bits << 16)),
        DType.F16 => ScanBits(view, MemoryMarshal.Cast<byte, ushort>(view.Bytes), 0x7C00, bits => (float)BitConverter.UInt16BitsToHalf(bits)),
        DType.F32 => ScanFloats(view, MemoryMarshal.Cast<byte, float>(view.Bytes)),
        _ => null,
    };

    private static NonFiniteTensor? ScanBits(TensorView view, ReadOnlySpan<ushort> values, ushort exponent, Func<ushort, float> widen)
    {
        // Fast path: no lane of any vector has an all-ones exponent, which is the common case.
        var mask = new Vector<ushort>(exponent);
        int i = 0;
        for (; i + Vector<ushort>.Count <= values.Length; i += Vector<ushort>.Count)
        {
            var v = new Vector<ushort>(values.Slice(i, Vector<ushort>.Count));
            if (Vector.EqualsAny(v & mask, mask))
            {
                break;
            }
        }

        long count = 0, first = -1;
        for (; i < values.Length; i++)
        {
            if ((values[i] & exponent) == exponent)
            {
                count++;
                first = first < 0 ? i : first;
            }
        }

        return count == 0 ? null : new NonFiniteTensor(view.Name, view.File, count, values.Length, first, widen(values[(int)first]));
    }

    private static NonFiniteTensor? ScanFloats(TensorView view, ReadOnlySpan<float> values)
    {
        long count = 0, first = -1;
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                count++;
                first = first < 0 ? i : first;
            }
        }

        return count == 0 ? null : new NonFiniteTensor(view.Name, view.File, count, values.Length, first, values[(int)first]);
    }
}
