using Qwen3Next.PtxEmulator.Model;

namespace Qwen3Next.PtxEmulator.Profiling;

/// <summary>
/// Listens to an <see cref="EmulatedGpu"/>'s launches and applies the H200 model to each, attributing it to the op
/// opened with <see cref="BeginOp"/> (launches outside any op are attributed to their kernel name). Launches that
/// ran without counters cannot be modeled and are listed in the report's notes.
/// </summary>
public sealed class ProfileRecorder : IDisposable
{
    private readonly EmulatedGpu gpu;
    private readonly H200Model model;
    private readonly object gate = new();
    private readonly List<OpState> ops = [];
    private readonly List<string> notes = [];
    private OpState? current;

    public ProfileRecorder(EmulatedGpu gpu, H200Model? model = null)
    {
        this.gpu = gpu;
        this.model = model ?? new H200Model();
        gpu.Launched += OnLaunched;
    }

    /// <summary>Attributes the launches until the returned scope is disposed to <paramref name="op"/>; calling it
    /// again with the same name counts another call of the same op. <paramref name="nominalWork"/> is one call's
    /// bytes and FLOPs (the op workload's), for the op's roofline.</summary>
    public IDisposable BeginOp(string op, Roofline? nominalWork = null)
    {
        lock (gate)
        {
            if (current is not null)
            {
                throw new InvalidOperationException($"op '{current.Name}' is still open; ops do not nest");
            }

            var state = ops.Find(o => o.Name == op);
            if (state is null)
            {
                state = new OpState(op, nominalWork);
                ops.Add(state);
            }

            state.Calls++;
            current = state;
            return new Scope(this);
        }
    }

    public ProfileReport Report()
    {
        lock (gate)
        {
            var profiles = ops.Select(o => new OpProfile(o.Name, o.Calls,
                o.Groups.Select(g => new LaunchGroup(g.First.Kernel, g.First.Geometry, g.Count, g.First)).ToList(), o.Nominal)).ToList();
            return new ProfileReport(model.Spec, profiles, notes.ToList());
        }
    }

    public void Dispose() => gpu.Launched -= OnLaunched;

    private void OnLaunched(LaunchResult launch)
    {
        lock (gate)
        {
            if (launch.Counters is null)
            {
                notes.Add($"{launch.Kernel.Name} {launch.Geometry.Grid}: not modeled (counters were off)");
                return;
            }

            if (launch.Findings.Count > 0)
            {
                notes.Add($"{launch.Kernel.Name} {launch.Geometry.Grid}: not modeled (the launch had sanitizer findings)");
                return;
            }

            LaunchEstimate estimate;
            try
            {
                estimate = model.Estimate(launch);
            }
            catch (H200ModelException e)
            {
                notes.Add($"{launch.Kernel.Name} {launch.Geometry.Grid}: not modeled ({e.Message})");
                return;
            }

            var op = current;
            if (op is null)
            {
                op = ops.Find(o => o.Name == launch.Kernel.Name && o.Calls == 0) ?? new OpState(launch.Kernel.Name, null);
                if (!ops.Contains(op))
                {
                    ops.Add(op);
                }
            }

            var group = op.Groups.Find(g => g.First.Kernel == launch.Kernel.Name && g.First.Geometry == launch.Geometry);
            if (group is not null)
            {
                group.Count++;
            }
            else
            {
                op.Groups.Add(new GroupState(estimate));
            }
        }
    }

    private void EndOp()
    {
        lock (gate)
        {
            current = null;
        }
    }

    private sealed class OpState(string name, Roofline? nominal)
    {
        public string Name { get; } = name;

        public Roofline? Nominal { get; } = nominal;

        public int Calls { get; set; }

        public List<GroupState> Groups { get; } = [];
    }

    private sealed class GroupState(LaunchEstimate first)
    {
        public LaunchEstimate First { get; } = first;

        public int Count { get; set; } = 1;
    }

    private sealed class Scope(ProfileRecorder owner) : IDisposable
    {
        private bool disposed;

        public void Dispose()
        {
            if (!disposed)
            {
                disposed = true;
                owner.EndOp();
            }
        }
    }
}
