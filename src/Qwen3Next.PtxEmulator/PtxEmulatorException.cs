namespace Qwen3Next.PtxEmulator;

/// <summary>Base of every error the emulator raises; none of them leaves emulated or host memory half-written.</summary>
public class PtxEmulatorException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>PTX text that does not parse: names the module and line.</summary>
public sealed class PtxSyntaxException(string module, int line, string message)
    : PtxEmulatorException($"{module}:{line}: {message}")
{
    public string Module { get; } = module;

    public int Line { get; } = line;
}

/// <summary>
/// PTX the emulator does not implement (an instruction, a modifier combination, a directive or an operand form):
/// never skipped, always this error with the construct and the PTX line.
/// </summary>
public sealed class UnsupportedPtxException(string module, int line, string construct, string text)
    : PtxEmulatorException($"{module}:{line}: unsupported PTX {construct} in '{text}'")
{
    public string Module { get; } = module;

    public int Line { get; } = line;

    public string Construct { get; } = construct;
}

/// <summary>A launch that cannot run as asked (bad configuration, parameter bytes that do not match the
/// <c>.entry</c>, too much shared memory), raised before any thread runs.</summary>
public sealed class PtxLaunchException(string message) : PtxEmulatorException(message);

/// <summary>
/// A kernel that faulted while running: an access outside every allocation with the sanitizer off, a deadlock, a
/// trap, or more sanitizer findings than the configured limit. The memory it wrote before the fault stays written,
/// as on a GPU; the finding names kernel, PTX line, thread, block and address.
/// </summary>
public sealed class PtxKernelFaultException(string message, IReadOnlyList<Sanitizer.SanitizerFinding> findings)
    : PtxEmulatorException(message)
{
    public IReadOnlyList<Sanitizer.SanitizerFinding> Findings { get; } = findings;
}
