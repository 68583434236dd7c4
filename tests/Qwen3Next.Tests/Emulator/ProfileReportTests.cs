using System.Text.Json;
using NUnit.Framework;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;
using Qwen3Next.PtxEmulator.Model;
using Qwen3Next.PtxEmulator.Profiling;

namespace Qwen3Next.Tests.Emulator;

/// <summary>The profile recorder groups launches per op and configuration; text and JSON carry the model label.</summary>
public sealed class ProfileReportTests
{
    private static readonly LaunchGeometry Small = new(new Dim3(4, 2), 64);
    private static readonly LaunchGeometry Large = new(300, 128);

    [Test]
    public void LaunchesAreGroupedPerOpAndConfigurationAndTimedPerCall()
    {
        using var gpu = new EmulatedGpu();
        using var recorder = new ProfileRecorder(gpu);
        for (int call = 0; call < 2; call++)
        {
            using (recorder.BeginOp("mark twice", Roofline.ForOp(1e6, 0, tensorCores: false)))
            {
                MarkKernel.Launch(gpu, Small);
                MarkKernel.Launch(gpu, Small);
                MarkKernel.Launch(gpu, Large);
            }
        }

        MarkKernel.Launch(gpu, Small);
        var report = recorder.Report();
        Assert.That(report.Ops.Select(o => (o.Op, o.Calls)), Is.EqualTo(new[] { ("mark twice", 2), ("mark", 0) }));
        var op = report.Ops[0];
        Assert.That(op.Launches.Select(l => (l.Geometry, l.Count)), Is.EqualTo(new[] { (Small, 4), (Large, 2) }));
        double perCall = (2 * op.Launches[0].Estimate.Seconds) + op.Launches[1].Estimate.Seconds;
        Assert.That(op.SecondsPerCall, Is.EqualTo(perCall).Within(1e-15));
        Assert.That(op.Bound, Is.EqualTo(BoundKind.Launch), "a few stores take no more than the launch floor");
        Assert.That(op.FractionOfRoofline(report.Spec), Is.EqualTo(1e6 / report.Spec.HbmPeakBytesPerSecond / perCall).Within(1e-12));
    }

    [Test]
    public void TextAndJsonAreLabelledAsAModel()
    {
        using var gpu = new EmulatedGpu();
        using var recorder = new ProfileRecorder(gpu);
        using (recorder.BeginOp("mark"))
        {
            MarkKernel.Launch(gpu, Large);
        }

        var report = recorder.Report();
        string text = report.ToText();
        Assert.That(text, Does.StartWith(ProfileReport.Label));
        Assert.That(text, Does.Contain("mark").And.Contain("300").And.Contain("launch"));
        Assert.That(text, Does.Contain("fallback: mark is in no ptxas report"), "a kernel without ptxas registers says so");

        using var json = JsonDocument.Parse(report.ToJson());
        var root = json.RootElement;
        Assert.That(root.GetProperty("model").GetString(), Is.EqualTo(ProfileReport.Label));
        var launch = root.GetProperty("ops")[0].GetProperty("launches")[0];
        Assert.That(launch.GetProperty("grid").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(new[] { 300, 1, 1 }));
        Assert.That(launch.GetProperty("bound").GetString(), Is.EqualTo("launch"));
        Assert.That(launch.GetProperty("boundsUs").EnumerateObject().Count(), Is.EqualTo(Enum.GetValues<BoundKind>().Length));
        Assert.That(launch.GetProperty("occupancy").GetProperty("registersSource").GetString(), Does.StartWith("fallback"));
    }

    [Test]
    public void LaunchesWithoutCountersAreNotedNotModeled()
    {
        using var gpu = new EmulatedGpu(new EmulatorOptions { Counters = false });
        using var recorder = new ProfileRecorder(gpu);
        MarkKernel.Launch(gpu, Small);
        var report = recorder.Report();
        Assert.That(report.Ops, Is.Empty);
        Assert.That(report.Notes.Single(), Does.Contain("counters were off"));
    }

    [Test]
    public void OpsDoNotNest()
    {
        using var gpu = new EmulatedGpu();
        using var recorder = new ProfileRecorder(gpu);
        using var outer = recorder.BeginOp("outer");
        Assert.That(() => recorder.BeginOp("inner"), Throws.InvalidOperationException.With.Message.Contains("outer"));
    }
}
