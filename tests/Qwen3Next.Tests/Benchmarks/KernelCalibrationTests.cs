using NUnit.Framework;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Benchmarks;
using Qwen3Next.Ops.GatedDelta;
using Qwen3Next.Ops.Moe;
using Qwen3Next.PtxEmulator;

namespace Qwen3Next.Tests.Benchmarks;

/// <summary>
/// The GPU check's calibration path without a GPU: per-launch times through CUDA events on the ptx backend (here the
/// emulated driver's events, which time the host), their JSON, and the pairing of each measured launch with the
/// model's estimate of the same launch.
/// </summary>
public sealed class KernelCalibrationTests
{
    private static readonly string[] Ops = ["rmsnorm", "gdn-decode", "moe-decode"];

    [Test]
    public void MeasuredLaunchesPairWithTheModelsEstimatesInOrder()
    {
        MeasuredProfile measured;
        using (var timed = PtxBackend.CreateEmulated())
        {
            measured = KernelCalibration.Measure(timed, Ops, BenchmarkScale.Small, repetitions: 2);
        }

        Assert.That(measured.Ops.Select(o => o.Op), Is.EqualTo(Ops));
        Assert.That(measured.Ops.SelectMany(o => o.Launches).All(l => l.Microseconds > 0), Is.True);
        Assert.That(measured.Ops.Single(o => o.Op == "gdn-decode").Launches.Select(l => l.Kernel), Is.EqualTo(new[] { PtxGatedDeltaOps.DecodeFused }));
        Assert.That(measured.Ops.Single(o => o.Op == "moe-decode").Launches.Select(l => l.Kernel),
            Is.EqualTo(new[] { PtxMoeOps.DecodeRoute, PtxMoeOps.DecodeGateUp, PtxMoeOps.DecodeDownCombine }));

        var roundTrip = MeasuredProfile.FromJson(measured.ToJson());
        Assert.That(roundTrip.Ops.SelectMany(o => o.Launches).Select(l => (l.Kernel, l.Microseconds)),
            Is.EqualTo(measured.Ops.SelectMany(o => o.Launches).Select(l => (l.Kernel, l.Microseconds))));

        var rows = KernelCalibration.Compare(roundTrip, new EmulatorOptions { Counters = true, Sanitize = false });
        Assert.That(rows.Select(r => r.Kernel), Is.EqualTo(measured.Ops.SelectMany(o => o.Launches).Select(l => l.Kernel)));
        Assert.That(rows.All(r => r.ModeledMicroseconds > 0 && r.Ratio > 0), Is.True);
    }

    [Test]
    public void AProfileFromAnotherLaunchSequenceIsRefused()
    {
        var foreign = new MeasuredProfile("a GPU", "Small", 1,
            [new MeasuredOp("rmsnorm", "[64x128]", [new MeasuredLaunch("not_a_kernel", [1, 1, 1], [256, 1, 1], 3.0)])]);
        var error = Assert.Throws<InvalidOperationException>(() => KernelCalibration.Compare(foreign, new EmulatorOptions { Counters = true }));
        Assert.That(error!.Message, Does.Contain("rmsnorm"));
    }

    [Test]
    public void TheModelNeedsCounters()
        => Assert.Throws<ArgumentException>(() => KernelCalibration.Compare(new MeasuredProfile("a GPU", "Small", 1, []), new EmulatorOptions()));
}
