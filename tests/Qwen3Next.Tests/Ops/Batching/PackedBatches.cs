using NUnit.Framework;
using Qwen3Next.Backends;

namespace Qwen3Next.Tests.Ops.Batching;

/// <summary>Builds the packed batches the batching tests feed, and compares their outputs row by row.</summary>
internal static class PackedBatches
{
    /// <summary>cu_seqlens of sequences of the given lengths.</summary>
    public static int[] CuSeqlens(IReadOnlyList<int> lengths)
    {
        var cu = new int[lengths.Count + 1];
        for (int b = 0; b < lengths.Count; b++)
        {
            cu[b + 1] = cu[b] + lengths[b];
        }

        return cu;
    }

    /// <summary>A batch of fresh sequences (positions from 0) in the given slots.</summary>
    public static SequenceBatch Fresh(IReadOnlyList<int> lengths, IReadOnlyList<int> slots)
    {
        var positions = lengths.SelectMany(n => Enumerable.Range(0, n)).ToArray();
        return new SequenceBatch(CuSeqlens(lengths), positions, slots.ToArray());
    }

    public static float[] Uniform(Random random, long length, float low, float high)
    {
        var values = new float[length];
        for (long i = 0; i < length; i++)
        {
            values[i] = low + ((high - low) * random.NextSingle());
        }

        return values;
    }

    public static float[] Download(IKernelBackend backend, DeviceTensor tensor, long length = -1)
    {
        var values = new float[length < 0 ? tensor.Length : length];
        backend.Download(tensor, values);
        return values;
    }

    /// <summary>Rows [first, first + count) of a <c>[rows, width]</c> array.</summary>
    public static float[] Rows(float[] values, int first, int count, int width) => values.AsSpan(first * width, count * width).ToArray();

    /// <summary>Every |actual − expected| ≤ <paramref name="atol"/> (0: bit-identical), naming the worst element.</summary>
    public static void AssertClose(string what, ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double atol)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), what);
        int worst = -1;
        double worstDiff = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double diff = Math.Abs((double)actual[i] - expected[i]);
            bool bad = atol == 0 ? BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i]) : !(diff <= atol);
            if (bad && (worst < 0 || !(diff <= worstDiff)))
            {
                worst = i;
                worstDiff = diff;
            }
        }

        if (worst >= 0)
        {
            Assert.Fail($"{what}: element {worst} is {actual[worst]} but expected {expected[worst]} (|diff| {worstDiff:E2}, atol {atol})");
        }
    }
}
