using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Tests.Ops.GatedDelta;

/// <summary>Seeded random inputs for the gated delta tests, and the comparison they share.</summary>
internal static class GatedDeltaInputs
{
    public static float[] Uniform(Random random, long length, float low, float high)
    {
        var values = new float[length];
        for (long i = 0; i < length; i++)
        {
            values[i] = low + ((high - low) * random.NextSingle());
        }

        return values;
    }

    /// <summary>Values rounded to bf16, as checkpoint weights are.</summary>
    public static ushort[] Bf16Uniform(Random random, long length, float low, float high)
        => Uniform(random, length, low, high).Select(Bf16.FromFloat).ToArray();

    public static float[] Download(IKernelBackend backend, DeviceTensor tensor)
    {
        var values = new float[tensor.Length];
        backend.Download(tensor, values);
        return values;
    }

    /// <summary>numpy allclose: every |actual − expected| ≤ atol + rtol·|expected|, reporting the worst element.</summary>
    public static void AssertClose(string what, float[] actual, float[] expected, double atol, double rtol)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        int worst = -1;
        double worstExcess = 0, maxAbs = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs((double)actual[i] - expected[i]);
            maxAbs = Math.Max(maxAbs, diff);
            double excess = diff - (atol + (rtol * Math.Abs(expected[i])));
            if (excess > worstExcess || double.IsNaN(diff))
            {
                worstExcess = double.IsNaN(diff) ? double.PositiveInfinity : excess;
                worst = i;
            }
        }

        Assert.That(worst, Is.EqualTo(-1),
            () => $"{what}: element {worst} is {actual[worst]} but expected {expected[worst]} (atol {atol}, rtol {rtol}; max |diff| {maxAbs:E2})");
        TestContext.Out.WriteLine($"{what}: max |diff| {maxAbs:E2}");
    }
}
