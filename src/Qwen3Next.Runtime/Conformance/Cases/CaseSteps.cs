using Qwen3Next.Backends;

namespace Qwen3Next.Conformance.Cases;

/// <summary>Shared mechanics of the golden cases: reading a device tensor back, and feeding decode inputs one token at a time.</summary>
internal static class CaseSteps
{
    public static float[] Download(IKernelBackend b, DeviceTensor t)
    {
        var r = new float[t.Length];
        b.Download(t, r);
        return r;
    }

    /// <summary>Runs <paramref name="steps"/> single-token calls of <paramref name="forward"/>(x, y) over rows of
    /// <paramref name="inputs"/> <c>[steps, width]</c> and returns the outputs <c>[steps, width]</c>.</summary>
    public static float[] Decode(IKernelBackend b, float[] inputs, int steps, int width, Action<DeviceTensor, DeviceTensor> forward)
    {
        var outputs = new float[steps * width];
        using var y = b.Allocate(width);
        for (int i = 0; i < steps; i++)
        {
            using var x = b.Upload(inputs.AsSpan(i * width, width));
            forward(x, y);
            b.Download(y, outputs.AsSpan(i * width, width));
        }

        return outputs;
    }
}
