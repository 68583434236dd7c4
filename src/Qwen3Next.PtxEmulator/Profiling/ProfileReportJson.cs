using System.Text;
using System.Text.Json;
using Qwen3Next.PtxEmulator.Model;

namespace Qwen3Next.PtxEmulator.Profiling;

/// <summary>
/// The JSON shape of a <see cref="ProfileReport"/> (written field by field, so the shape is stable):
/// <c>{ model, spec: {…}, ops: [ { op, calls, modeledUs, bound, rooflineUs, fractionOfRoofline, sampled, bytes,
/// flops, launches: [ { kernel, grid: [x,y,z], block: [x,y,z], dynamicSharedBytes, count, modeledUs, bound,
/// fractionOfRoofline, ctasRun, occupancy: { ctasPerSm, limiter, registersPerThread, registersSource }, waves,
/// boundsUs: { dram, l2, … } } ] } ], notes: [] }</c>. Times are microseconds per call (ops) or per launch.
/// </summary>
public static class ProfileReportJson
{
    public static string Format(ProfileReport report)
    {
        var spec = report.Spec;
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model", ProfileReport.Label);
            w.WriteStartObject("spec");
            w.WriteNumber("sms", spec.Sms);
            w.WriteNumber("clockHz", spec.ClockHz);
            w.WriteNumber("hbmPeakBytesPerSecond", spec.HbmPeakBytesPerSecond);
            w.WriteNumber("hbmAchievableBytesPerSecond", spec.HbmAchievableBytesPerSecond);
            w.WriteNumber("tensorPeakFlops", spec.TensorPeakFlops);
            w.WriteNumber("mmaSyncFractionOfPeak", spec.MmaSyncFractionOfPeak);
            w.WriteNumber("fp32PeakFlops", spec.Fp32PeakFlops);
            w.WriteNumber("dramLatencySeconds", spec.DramLatencySeconds);
            w.WriteEndObject();
            w.WriteStartArray("ops");
            foreach (var op in report.Ops)
            {
                w.WriteStartObject();
                w.WriteString("op", op.Op);
                w.WriteNumber("calls", op.Calls);
                w.WriteNumber("modeledUs", Round(op.SecondsPerCall * 1e6));
                w.WriteString("bound", ProfileReportText.Name(op.Bound));
                w.WriteNumber("rooflineUs", Round(op.RooflineSeconds(spec) * 1e6));
                w.WriteNumber("fractionOfRoofline", Round(op.FractionOfRoofline(spec)));
                w.WriteBoolean("sampled", op.Sampled);
                w.WriteNumber("bytes", op.Work.Bytes);
                w.WriteNumber("flops", op.Work.Flops);
                w.WriteStartArray("launches");
                foreach (var l in op.Launches)
                {
                    WriteLaunch(w, l);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("notes");
            foreach (var note in report.Notes)
            {
                w.WriteStringValue(note);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteLaunch(Utf8JsonWriter w, LaunchGroup l)
    {
        var e = l.Estimate;
        w.WriteStartObject();
        w.WriteString("kernel", l.Kernel);
        WriteDim(w, "grid", l.Geometry.Grid);
        WriteDim(w, "block", l.Geometry.Block);
        w.WriteNumber("dynamicSharedBytes", l.Geometry.DynamicSharedBytes);
        w.WriteNumber("count", l.Count);
        w.WriteNumber("modeledUs", Round(e.Seconds * 1e6));
        w.WriteString("bound", ProfileReportText.Name(e.Binding.Kind));
        w.WriteNumber("fractionOfRoofline", Round(e.FractionOfRoofline));
        w.WriteNumber("ctasRun", e.CtasRun);
        w.WriteStartObject("occupancy");
        w.WriteNumber("ctasPerSm", e.Occupancy.CtasPerSm);
        w.WriteString("limiter", e.Occupancy.Limiter);
        w.WriteNumber("registersPerThread", e.Resources.RegistersPerThread);
        w.WriteString("registersSource", e.Resources.Source);
        w.WriteEndObject();
        w.WriteNumber("waves", Round(e.Waves));
        w.WriteStartObject("boundsUs");
        foreach (var b in e.Bounds)
        {
            w.WriteNumber(ProfileReportText.Name(b.Kind), Round(b.Seconds * 1e6));
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteDim(Utf8JsonWriter w, string name, Execution.Dim3 d)
    {
        w.WriteStartArray(name);
        w.WriteNumberValue(d.X);
        w.WriteNumberValue(d.Y);
        w.WriteNumberValue(d.Z);
        w.WriteEndArray();
    }

    private static double Round(double v) => Math.Round(v, 4);
}
