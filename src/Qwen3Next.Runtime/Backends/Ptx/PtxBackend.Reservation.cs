namespace Qwen3Next.Backends.Ptx;

/// <summary>
/// The working set reserved when a session is created (<see cref="IWorkingSetReservation"/>): a sizing pass runs the
/// launchers' host code with every launch, device-to-host and device-to-device copy and synchronisation left out, so
/// the arena and the workspaces end up holding what the pass needs and the real passes allocate nothing. Uploads and
/// memsets still run: they are how a launcher initialises what it keeps (tables, tickets), and they are cheap.
/// </summary>
public sealed partial class PtxBackend
{
    private bool sizing;
    private long? workingSetBudget;

    /// <summary>A sizing pass is running: no kernel runs.</summary>
    internal bool IsSizing => sizing;

    /// <summary>Device bytes the activation arena and the workspaces may hold (the residency plan's workspace share
    /// under <c>--device-memory</c>); null = no limit. A session whose working set exceeds it is refused when created.</summary>
    public long? WorkingSetBudgetBytes
    {
        get => workingSetBudget;
        set
        {
            if (value is < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "A working-set budget cannot be negative.");
            }

            workingSetBudget = value;
        }
    }

    public long Reserve(Action pass)
    {
        ArgumentNullException.ThrowIfNull(pass);
        using var use = Access.Enter();
        if (sizing)
        {
            throw new InvalidOperationException("A working-set reservation is already running.");
        }

        long capacity = Arena.CapacityBytes;
        (sizing, Arena.CapacityBytes) = (true, long.MaxValue);
        Arena.TrackRents(true);
        try
        {
            pass();
            return Arena.TrackedBytes + Workspace.Bytes;
        }
        finally
        {
            // Keep every buffer the pass returned, beyond the idle capacity if it must.
            sizing = false;
            Arena.TrackRents(false);
            Arena.CapacityBytes = Math.Max(capacity, Arena.IdleBytes);
        }
    }
}
