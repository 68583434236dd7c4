namespace Qwen3Next.Backends;

/// <summary>
/// A backend that reserves a forward pass's activations and workspaces before the pass runs: the model runs the pass's
/// host code once with no kernel run (a backend may still upload what its launchers initialise once), so in effect only
/// its allocations happen, and the backend keeps what they allocated for the real passes, which then allocate nothing.
/// The model does this when a session is created.
/// </summary>
public interface IWorkingSetReservation
{
    /// <summary>Device bytes the activations and workspaces may hold in all; null = no limit (the device's memory).</summary>
    long? WorkingSetBudgetBytes { get; }

    /// <summary>Runs <paramref name="pass"/> without device work and keeps what it allocated; returns the device bytes
    /// the pass's activations and the backend's workspaces hold (what the real pass will use).</summary>
    long Reserve(Action pass);
}

/// <summary>A session whose activations and workspaces do not fit <see cref="IWorkingSetReservation.WorkingSetBudgetBytes"/>.</summary>
public sealed class WorkingSetBudgetException(long needed, long budget, string message) : InvalidOperationException(message)
{
    public long NeededBytes { get; } = needed;

    public long BudgetBytes { get; } = budget;
}
