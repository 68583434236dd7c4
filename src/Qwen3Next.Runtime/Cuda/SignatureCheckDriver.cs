namespace Qwen3Next.Cuda;

/// <summary>
/// The driver of signature-check mode: real host memory (uploads, downloads, copies and memsets work, and every one
/// is bounds-checked), and launches that are checked but not run: the configuration against the sm_90 limits and the
/// function's shared-memory opt-in, the arguments against the kernel's PTX <c>.entry</c> (<see cref="PtxSignatures"/>),
/// every pointer argument against the live device-visible allocations. Outputs are whatever the memory held (zeros
/// for memory no copy wrote), so the launch layer's ABI is checked without a GPU but no numbers are.
/// </summary>
internal sealed class SignatureCheckDriver : HostMemoryDriver
{
    private readonly Dictionary<string, long> checkedLaunches = new(StringComparer.Ordinal);

    public override string Description => "host memory (signature check: launches are checked, not run)";

    /// <summary>Launches that reached their stream, by kernel (a graph replay counts each kernel it holds).</summary>
    public IReadOnlyDictionary<string, long> CheckedLaunches
    {
        get
        {
            lock (checkedLaunches)
            {
                return new Dictionary<string, long>(checkedLaunches, StringComparer.Ordinal);
            }
        }
    }

    protected override void RunKernel(HostFunction function, LaunchConfig config, ulong[] arguments)
    {
        lock (checkedLaunches)
        {
            checkedLaunches[function.Name] = checkedLaunches.GetValueOrDefault(function.Name) + 1;
        }
    }
}
