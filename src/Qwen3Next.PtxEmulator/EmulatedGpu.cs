using System.Diagnostics;
using Qwen3Next.PtxEmulator.Counters;
using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Execution;
using Qwen3Next.PtxEmulator.Memory;
using Qwen3Next.PtxEmulator.Sanitizer;

namespace Qwen3Next.PtxEmulator;

/// <summary>What one launch did: its configuration, counters (when enabled), findings and host time.</summary>
public sealed record LaunchResult(DecodedKernel Kernel, LaunchGeometry Geometry, LaunchCounters? Counters,
    IReadOnlyList<SanitizerFinding> Findings, TimeSpan Elapsed);

/// <summary>
/// An emulated GPU: one address space (<see cref="Memory"/>), modules, and synchronous kernel launches that run the
/// PTX on the CPU. Launches are serialised (one at a time; callers on several threads are queued on a lock).
/// A launch with any finding throws <see cref="PtxKernelFaultException"/> after it ends, naming each finding.
/// </summary>
public sealed class EmulatedGpu : IDisposable
{
    private readonly object launchGate = new();
    private readonly SharedShadow sharedShadow = new();
    private long launchEpoch;

    public EmulatedGpu(EmulatorOptions? options = null) => Options = options ?? EmulatorOptions.Default;

    public EmulatorOptions Options { get; set; }

    public DeviceMemory Memory { get; } = new();

    /// <summary>Raised after every launch (profilers and the H200 model listen here).</summary>
    public event Action<LaunchResult>? Launched;

    public long Launches => Interlocked.Read(ref launchEpoch);

    public EmulatedModule LoadModule(string ptx, string name) => new(Memory, name, ptx);

    /// <summary>Runs <paramref name="kernel"/> to completion with the packed parameter bytes (layout:
    /// <see cref="DecodedKernel.Parameters"/>).</summary>
    public LaunchResult Launch(DecodedKernel kernel, LaunchGeometry geometry, ReadOnlySpan<byte> parameters)
    {
        lock (launchGate)
        {
            var watch = Stopwatch.StartNew();
            long epoch = Interlocked.Increment(ref launchEpoch);
            using var interpreter = new Interpreter(kernel, geometry, parameters, Memory, Options, epoch, sharedShadow);
            interpreter.Run();
            var result = new LaunchResult(kernel, geometry, interpreter.Counters, interpreter.Findings.ToList(), watch.Elapsed);
            Launched?.Invoke(result);
            if (result.Findings.Count > 0)
            {
                var lines = result.Findings.Take(8).Select(f => "  " + f);
                string more = result.Findings.Count > 8 ? $"{Environment.NewLine}  … and {result.Findings.Count - 8} more" : "";
                throw new PtxKernelFaultException(
                    $"kernel {kernel.Name} (module {kernel.Module}, grid {geometry.Grid}, block {geometry.Block}) has {result.Findings.Count} finding(s):"
                    + Environment.NewLine + string.Join(Environment.NewLine, lines) + more, result.Findings);
            }

            return result;
        }
    }

    public void Dispose() => Memory.Dispose();
}
