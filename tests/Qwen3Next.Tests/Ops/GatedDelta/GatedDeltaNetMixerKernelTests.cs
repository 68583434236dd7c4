using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.GatedDelta;
using static Qwen3Next.Tests.Ops.GatedDelta.GatedDeltaInputs;

namespace Qwen3Next.Tests.Ops.GatedDelta;

/// <summary>
/// The mixer core kernels — ILGPU's on the CPU accelerator, and the CUDA C and ILGPU PTX on the emulator with the sanitizer
/// on (chunked prefill for T &gt; 1, the decode kernels for T = 1) — against
/// <see cref="GatedDeltaNetReference"/>: a prefill of awkward length, then decode steps continuing from the
/// device states. y is the gated RMSNorm output, |y| ≲ 3, computed from o whose fp32 noise is ~1e-6 (see
/// <see cref="GatedDeltaRuleKernelTests"/>); the rms rescaling can amplify it by up to ~10 for small-norm heads, so
/// y uses atol 5e-5 (the golden layer tolerance), the recurrent state atol 1e-4 + rtol 1e-5; the conv state is a copy
/// of inputs and must match exactly.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.KernelBackends))]
public sealed class GatedDeltaNetMixerKernelTests(string backendName)
{
    /// <summary>Shared for the run (and disposed) by <see cref="TestBackends"/>.</summary>
    private IKernelBackend Backend => TestBackends.Get(backendName);

    [TestCase(1, 2, 2, 16, 16, 3, TestName = "Mixer_T1_prefillThroughDecode_ratio1")]
    [TestCase(3, 2, 4, 16, 24, 2, TestName = "Mixer_T3_shorterThanConv_ratio2")]
    [TestCase(63, 2, 4, 16, 24, 2, TestName = "Mixer_T63_ratio2")]
    [TestCase(64, 1, 1, 32, 32, 1, TestName = "Mixer_T64_ratio1")]
    [TestCase(65, 2, 4, 16, 40, 2, TestName = "Mixer_T65_ratio2_Dv40")]
    [TestCase(130, 1, 2, 32, 16, 2, TestName = "Mixer_T130_ratio2")]
    public void PrefillThenDecodeMatchesReference(int tokens, int keyHeads, int valueHeads, int keyDim, int valueDim, int decodeSteps)
    {
        var shape = new GatedDeltaNetShape(Hidden: 8, keyHeads, valueHeads, keyDim, valueDim, ConvKernel: 4, Eps: 1e-6f);
        var random = new Random((tokens * 31) + valueDim);
        var convBits = Bf16Uniform(random, (long)shape.ConvDim * shape.ConvKernel, -0.8f, 0.8f);
        var convWeight = new float[convBits.Length];
        Bf16.Widen(convBits, convWeight);
        var aLog = Uniform(random, valueHeads, -1f, 0.5f);
        var dtBias = Uniform(random, valueHeads, -1f, 1f);
        var norm = Uniform(random, valueDim, 0.5f, 1.5f);
        using var weights = new GatedDeltaNetWeights(Backend.LoadWeight(TensorView.FromBf16("conv1d.weight", [shape.ConvDim, 1, shape.ConvKernel], convBits)),
            Vector("A_log", aLog), Vector("dt_bias", dtBias), Vector("norm.weight", norm));

        var convState = new float[shape.ConvDim * shape.ConvKernel];
        var recurrentState = new float[valueHeads * keyDim * valueDim];
        using var state = new LinearAttentionState(Backend.Allocate(convState.Length), Backend.Allocate(recurrentState.Length));
        foreach (int stepTokens in new[] { tokens }.Concat(Enumerable.Repeat(1, decodeSteps)))
        {
            var qkvz = Uniform(random, (long)stepTokens * shape.QkvzWidth, -1.5f, 1.5f);
            var ba = Uniform(random, (long)stepTokens * shape.BaWidth, -2f, 2f);
            var expected = new float[stepTokens * shape.ValueWidth];
            GatedDeltaNetReference.Mixer(shape, stepTokens, qkvz, ba, convWeight, aLog, dtBias, norm, convState, recurrentState, expected);

            using var qkvzDevice = Backend.Upload(qkvz);
            using var baDevice = Backend.Upload(ba);
            using var y = Backend.Allocate(expected.Length);
            Backend.GatedDelta.Mixer(shape, stepTokens, qkvzDevice, baDevice, weights, state, y);

            AssertClose($"y (T={stepTokens})", Download(Backend, y), expected, 5e-5, 0);
            AssertClose($"conv state (T={stepTokens})", Download(Backend, state.Conv), convState, 0, 0);
            AssertClose($"recurrent state (T={stepTokens})", Download(Backend, state.Recurrent), recurrentState, 1e-4, 1e-5);
        }
    }

    private DeviceWeight Vector(string name, float[] values) => Backend.LoadWeight(TensorView.FromFloat32(name, [values.Length], values));
}
