using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Ops.Basic;
using static Qwen3Next.Tests.Ops.Batching.PackedBatches;

namespace Qwen3Next.Tests.Ops.Batching;

/// <summary>
/// The Gated DeltaNet mixer core over packed batches with state slots, against each sequence run alone through the
/// single-sequence op on the same backend with its own state: a prefill of mixed lengths, a decode step of every
/// sequence (the recurrent path), then a mixed step (prefill chunks beside single tokens, the chunked path), continuing
/// from the slots. A sequence of one token goes through the chunked form in a mixed batch and the recurrent form alone,
/// so outputs are compared at the golden layer tolerances (y atol 5e-5, recurrent state 1e-4; the two forms agree to
/// ~1e-6); the conv window is a copy of inputs and must be bit-identical. A conv window or chunk crossing into another
/// sequence, or a wrong slot, gives errors of order 1e-1.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.AllBackends))]
public sealed class VarlenGatedDeltaMixerTests(string backendName)
{
    private static readonly GatedDeltaNetShape Shape = new(Hidden: 8, KeyHeads: 2, ValueHeads: 4, KeyDim: 16, ValueDim: 24, ConvKernel: 4, Eps: 1e-6f);

    private IKernelBackend Backend => TestBackends.Get(backendName);

    [Test]
    public void PrefillDecodeAndMixedStepsEqualSeparateCalls()
    {
        bool emulated = TestBackends.EmulatedBackends.Contains(backendName);
        int[][] steps = emulated
            ? [[1, 15, 65], [1, 1, 1], [3, 1, 2]]
            : [[1, 15, 64, 65, 130], [1, 1, 1, 1, 1], [3, 1, 64, 1, 2]];
        int sequences = steps[0].Length, slots = sequences + 1;
        var random = new Random(17);
        var convBits = Uniform(random, (long)Shape.ConvDim * Shape.ConvKernel, -0.8f, 0.8f).Select(Bf16.FromFloat).ToArray();
        using var weights = new GatedDeltaNetWeights(
            Backend.LoadWeight(TensorView.FromBf16("conv1d.weight", [Shape.ConvDim, 1, Shape.ConvKernel], convBits)),
            Backend.LoadWeight(TensorView.FromFloat32("A_log", [Shape.ValueHeads], Uniform(random, Shape.ValueHeads, -1f, 0.5f))),
            Backend.LoadWeight(TensorView.FromFloat32("dt_bias", [Shape.ValueHeads], Uniform(random, Shape.ValueHeads, -1f, 1f))),
            Backend.LoadWeight(TensorView.FromFloat32("norm.weight", [Shape.ValueDim], Uniform(random, Shape.ValueDim, 0.5f, 1.5f))));
        long convSlot = (long)Shape.ConvDim * Shape.ConvKernel, recurrentSlot = (long)Shape.ValueHeads * Shape.KeyDim * Shape.ValueDim;
        using var pool = new LinearAttentionStatePool(Backend.Allocate(slots * convSlot), Backend.Allocate(slots * recurrentSlot), slots);
        var alone = Enumerable.Range(0, sequences).Select(_ => new LinearAttentionState(Backend.Allocate(convSlot), Backend.Allocate(recurrentSlot))).ToArray();
        var slotIds = Enumerable.Range(0, sequences).Select(b => slots - 1 - b).ToArray();
        try
        {
            foreach (var lengths in steps)
            {
                Step(lengths, slotIds, pool, alone, weights, random);
            }
        }
        finally
        {
            foreach (var state in alone)
            {
                state.Dispose();
            }
        }
    }

    private void Step(int[] lengths, int[] slotIds, LinearAttentionStatePool pool, LinearAttentionState[] alone, GatedDeltaNetWeights weights, Random random)
    {
        int tokens = lengths.Sum();
        var qkvz = Uniform(random, (long)tokens * Shape.QkvzWidth, -1.5f, 1.5f);
        var ba = Uniform(random, (long)tokens * Shape.BaWidth, -2f, 2f);
        var batch = Fresh(lengths, slotIds);
        float[] y;
        using (var qkvzDevice = Backend.Upload(qkvz))
        using (var baDevice = Backend.Upload(ba))
        using (var yDevice = Backend.Allocate((long)tokens * Shape.ValueWidth))
        {
            Backend.GatedDelta.Mixer(Shape, batch, qkvzDevice, baDevice, weights, pool, yDevice);
            y = Download(Backend, yDevice);
        }

        var cu = batch.CuSeqlens.ToArray();
        var convPool = Download(Backend, pool.Conv);
        var recurrentPool = Download(Backend, pool.Recurrent);
        int convSlot = Shape.ConvDim * Shape.ConvKernel, recurrentSlot = Shape.ValueHeads * Shape.KeyDim * Shape.ValueDim;
        string step = $"step [{string.Join(',', lengths)}]";
        for (int b = 0; b < lengths.Length; b++)
        {
            int t0 = cu[b], n = lengths[b];
            using var qkvzDevice = Backend.Upload(Rows(qkvz, t0, n, Shape.QkvzWidth));
            using var baDevice = Backend.Upload(Rows(ba, t0, n, Shape.BaWidth));
            using var yDevice = Backend.Allocate((long)n * Shape.ValueWidth);
            Backend.GatedDelta.Mixer(Shape, n, qkvzDevice, baDevice, weights, alone[b], yDevice);
            AssertClose($"{step}: y of sequence {b}", Rows(y, t0, n, Shape.ValueWidth), Download(Backend, yDevice), 5e-5);
            AssertClose($"{step}: conv state of sequence {b}", Rows(convPool, slotIds[b], 1, convSlot), Download(Backend, alone[b].Conv), 0);
            AssertClose($"{step}: recurrent state of sequence {b}", Rows(recurrentPool, slotIds[b], 1, recurrentSlot), Download(Backend, alone[b].Recurrent), 1e-4);
        }
    }
}
