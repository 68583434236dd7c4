using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Checkpoint;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.GatedDelta;
using static Qwen3Next.Tests.Ops.Batching.PackedBatches;

namespace Qwen3Next.Tests.Ops.GatedDelta;

/// <summary>
/// <c>gdn_decode_fused</c> (conv step, gates and l2 norm, recurrent update and gated RMSNorm in one kernel) against the
/// four kernels it replaces, on the PTX emulator with the sanitizer on: three decode steps of three sequences on
/// permuted state slots from random conv and recurrent states, at the tiny model's sizes, a group of 8 value heads
/// and the 80B's head sizes (Dk = Dv = 128). Each element is computed with the same operations in the same order,
/// so outputs and both state pools must be bit-identical.
/// </summary>
public sealed class PtxGdnDecodeFusedTests
{
    private static PtxBackend Emu => (PtxBackend)TestBackends.Get("ptx-emu");

    [TestCase(2, 4, 16, 24, 4)]
    [TestCase(1, 8, 64, 32, 4)]
    [TestCase(2, 4, 128, 128, 4)]
    public void FusedDecodeEqualsTheFourKernels(int keyHeads, int valueHeads, int keyDim, int valueDim, int convKernel)
    {
        var shape = new GatedDeltaNetShape(Hidden: 8, keyHeads, valueHeads, keyDim, valueDim, convKernel, Eps: 1e-6f);
        var random = new Random(keyDim + valueHeads);
        int slots = 4;
        int[] slotIds = [2, 0, 3];
        long convSlot = (long)shape.ConvDim * convKernel, recurrentSlot = (long)valueHeads * keyDim * valueDim;
        var conv0 = Uniform(random, slots * convSlot, -1f, 1f);
        var recurrent0 = Uniform(random, slots * recurrentSlot, -0.5f, 0.5f);
        var convBits = Uniform(random, convSlot, -0.8f, 0.8f).Select(Bf16.FromFloat).ToArray();
        var steps = Enumerable.Range(0, 3).Select(_ => (Qkvz: Uniform(random, 3L * shape.QkvzWidth, -1.5f, 1.5f), Ba: Uniform(random, 3L * shape.BaWidth, -2f, 2f)))
            .ToArray();
        using var weights = new GatedDeltaNetWeights(
            Emu.LoadWeight(TensorView.FromBf16("conv1d.weight", [shape.ConvDim, 1, convKernel], convBits)),
            Emu.LoadWeight(TensorView.FromFloat32("A_log", [valueHeads], Uniform(random, valueHeads, -1f, 0.5f))),
            Emu.LoadWeight(TensorView.FromFloat32("dt_bias", [valueHeads], Uniform(random, valueHeads, -1f, 1f))),
            Emu.LoadWeight(TensorView.FromFloat32("norm.weight", [valueDim], Uniform(random, valueDim, 0.5f, 1.5f))));

        (List<float[]> Ys, float[] Conv, float[] Recurrent) Run(bool unfused)
        {
            var ops = (PtxGatedDeltaOps)Emu.GatedDelta;
            ops.UnfusedDecode = unfused;
            try
            {
                using var pool = new LinearAttentionStatePool(Emu.Upload(conv0), Emu.Upload(recurrent0), slots);
                var ys = new List<float[]>();
                foreach (var (qkvz, ba) in steps)
                {
                    using var q = Emu.Upload(qkvz);
                    using var b = Emu.Upload(ba);
                    using var y = Emu.Allocate(3L * shape.ValueWidth);
                    long launches = Emu.DriverCounters.Launches;
                    Emu.GatedDelta.Mixer(shape, Fresh([1, 1, 1], slotIds), q, b, weights, pool, y);
                    Assert.That(Emu.DriverCounters.Launches - launches, Is.EqualTo(unfused ? 4 : 1));
                    ys.Add(Download(Emu, y));
                }

                return (ys, Download(Emu, pool.Conv), Download(Emu, pool.Recurrent));
            }
            finally
            {
                ops.UnfusedDecode = false;
            }
        }

        var fused = Run(unfused: false);
        var four = Run(unfused: true);
        for (int s = 0; s < steps.Length; s++)
        {
            Assert.That(fused.Ys[s], Is.EqualTo(four.Ys[s]), $"y of step {s}");
        }

        Assert.That(fused.Conv, Is.EqualTo(four.Conv), "conv states");
        Assert.That(fused.Recurrent, Is.EqualTo(four.Recurrent), "recurrent states");
        Assert.That(fused.Recurrent, Is.Not.EqualTo(recurrent0), "the states advanced");
    }
}
