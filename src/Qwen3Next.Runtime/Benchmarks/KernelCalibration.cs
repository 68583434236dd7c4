using System.Text.Json;
using System.Text.Json.Serialization;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Model;

namespace Qwen3Next.Benchmarks;

/// <summary>One launch as the GPU check measured it: which kernel, its grid and block, and its device time.</summary>
public sealed record MeasuredLaunch(string Kernel, int[] Grid, int[] Block, double Microseconds);

/// <summary>One op workload's launches on a GPU, in launch order (medians over repetitions).</summary>
public sealed record MeasuredOp(string Op, string Shape, IReadOnlyList<MeasuredLaunch> Launches);

/// <summary>What <c>kernels profile --backend ptx</c> writes on a GPU: per-kernel device times of every op workload, in
/// one precision mode (profiles written before the modes existed are exact).</summary>
public sealed record MeasuredProfile(string Device, string Scale, int Repetitions, IReadOnlyList<MeasuredOp> Ops, string Precision = "exact")
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static MeasuredProfile FromJson(string json)
        => JsonSerializer.Deserialize<MeasuredProfile>(json, Json) ?? throw new FormatException("the measured profile is empty");
}

/// <summary>A measured launch beside the model's estimate of the same launch.</summary>
public sealed record CalibrationRow(string Op, string Kernel, int[] Grid, double MeasuredMicroseconds, double ModeledMicroseconds, BoundKind Bound)
{
    /// <summary>Measured over modeled: above 1 the model is optimistic.</summary>
    public double Ratio => ModeledMicroseconds > 0 ? MeasuredMicroseconds / ModeledMicroseconds : double.NaN;
}

/// <summary>
/// Per-kernel GPU times for the H200 model's calibration. On a GPU every op workload runs with its launches bracketed
/// by CUDA events (after a warm-up); here the same workloads (same seeds, so the same launch sequence) run on the
/// emulator and each measured launch is paired, by position within its op, with the model's estimate of it.
/// </summary>
public static class KernelCalibration
{
    public static MeasuredProfile Measure(PtxBackend backend, IReadOnlyList<string> ops, BenchmarkScale scale, int repetitions = 10)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(repetitions);
        var measured = new List<MeasuredOp>();
        foreach (var name in ops)
        {
            using var workload = OpWorkloads.Create(name, backend, scale);
            workload.Run();
            backend.Synchronize();
            var runs = Enumerable.Range(0, repetitions).Select(_ => backend.TimeLaunches(workload.Run)).ToList();
            var launches = runs[0].Select((first, i) => new MeasuredLaunch(first.Kernel, Dims(first.Config.Grid), Dims(first.Config.Block),
                Median(runs.Select(r => r[i].Milliseconds * 1e3)))).ToList();
            measured.Add(new MeasuredOp(name, workload.Shape, launches));
        }

        return new MeasuredProfile(backend.Description, scale.ToString(), repetitions, measured, backend.Precision.Name());
    }

    /// <summary>Pairs <paramref name="measured"/> with the model's estimates of the same workloads on the emulated
    /// ptx backend (<paramref name="options"/> must enable counters).</summary>
    public static IReadOnlyList<CalibrationRow> Compare(MeasuredProfile measured, EmulatorOptions options, H200Model? model = null)
    {
        if (!options.Counters)
        {
            throw new ArgumentException("The model needs counters (EmulatorOptions.Counters).", nameof(options));
        }

        model ??= new H200Model();
        var scale = Enum.Parse<BenchmarkScale>(measured.Scale);
        using var emulated = PtxBackend.CreateEmulated(options, PrecisionModes.Parse(measured.Precision));
        var estimates = new List<LaunchEstimate>();
        emulated.Emulator!.Launched += launch => estimates.Add(model.Estimate(launch));
        var rows = new List<CalibrationRow>();
        foreach (var op in measured.Ops)
        {
            estimates.Clear();
            using (var workload = OpWorkloads.Create(op.Op, emulated, scale))
            {
                workload.Run();
                emulated.Synchronize();
            }

            if (estimates.Count != op.Launches.Count)
            {
                throw new InvalidOperationException($"{op.Op}: the GPU ran {op.Launches.Count} launches, the emulator {estimates.Count}; the profile is from another build");
            }

            rows.AddRange(op.Launches.Zip(estimates, (m, e) => m.Kernel != e.Kernel
                ? throw new InvalidOperationException($"{op.Op}: launch order differs ({m.Kernel} on the GPU, {e.Kernel} here)")
                : new CalibrationRow(op.Op, m.Kernel, m.Grid, m.Microseconds, e.Seconds * 1e6, e.Binding.Kind)));
        }

        return rows;
    }

    private static int[] Dims(Cuda.LaunchDims d) => [d.X, d.Y, d.Z];

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
