using NUnit.Framework;
using Qwen3Next.Backends;
using static Qwen3Next.Tests.Ops.Batching.PackedBatches;

namespace Qwen3Next.Tests.Ops.Batching;

/// <summary>
/// The gated delta rule over a packed batch equals separate per-sequence calls of the same backend, bit for bit: the
/// kernels do the same arithmetic for a sequence wherever it sits in the batch, chunks never cross a sequence boundary
/// (a chunk straddling two sequences would mix their keys and change every later output), and each sequence reads and
/// writes only its own state slot. Lengths are drawn from {1, 15, 63, 64, 65, 286, 300, 512} (whole and partial chunks,
/// sequences shorter than one chunk); slots are a permutation with spare slots that must stay untouched; states start
/// zero (fresh sequences) or random (continuations). The emulated backends run the shorter packings.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.AllBackends))]
public sealed class VarlenGatedDeltaRuleTests(string backendName)
{
    private static readonly GatedDeltaShape Heads = new(0, KeyHeads: 2, ValueHeads: 4, KeyDim: 16, ValueDim: 24);

    private IKernelBackend Backend => TestBackends.Get(backendName);

    private bool Emulated => TestBackends.EmulatedBackends.Contains(backendName);

    private static IEnumerable<TestCaseData> Cases()
    {
        int[][] cpu = [[1, 15, 63, 64, 65, 286, 300, 512], [300, 1, 64, 15]];
        int[][] emulated = [[1, 15, 63, 64, 65], [65, 1]];
        foreach (var mode in new[] { GatedDeltaMode.Chunked, GatedDeltaMode.Recurrent })
        {
            foreach (bool initial in new[] { false, true })
            {
                for (int i = 0; i < 2; i++)
                {
                    string state = initial ? "initialState" : "zeroState";
                    yield return new TestCaseData(mode, cpu[i], emulated[i], initial).SetName($"{mode}_packing{i}_{state}");
                }
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void PackedBatchEqualsSeparateCalls(GatedDeltaMode mode, int[] cpuLengths, int[] emulatedLengths, bool initialState)
    {
        var lengths = Emulated ? emulatedLengths : cpuLengths;
        int sequences = lengths.Length, slots = sequences + 2, tokens = lengths.Sum();
        var shape = Heads with { Tokens = tokens };
        int qk = shape.KeyHeads * shape.KeyDim, vo = shape.ValueHeads * shape.ValueDim, heads = shape.ValueHeads;
        int slot = heads * shape.KeyDim * shape.ValueDim;
        var random = new Random(tokens + (initialState ? 1 : 0));
        var q = Uniform(random, (long)tokens * qk, -1, 1);
        var k = Uniform(random, (long)tokens * qk, -1, 1);
        var v = Uniform(random, (long)tokens * vo, -1, 1);
        var g = Uniform(random, (long)tokens * heads, -0.6f, 0f);
        var beta = Uniform(random, (long)tokens * heads, 0f, 1f);
        var pool = initialState ? Uniform(random, (long)slots * slot, -1, 1) : new float[slots * slot];
        var slotIds = Enumerable.Range(0, sequences).Select(b => slots - 1 - b).ToArray();
        var batch = Fresh(lengths, slotIds);
        float scale = 1f / MathF.Sqrt(shape.KeyDim);

        float[] o, states;
        using (var qd = Backend.Upload(q))
        using (var kd = Backend.Upload(k))
        using (var vd = Backend.Upload(v))
        using (var gd = Backend.Upload(g))
        using (var bd = Backend.Upload(beta))
        using (var sd = Backend.Upload(pool))
        using (var od = Backend.Allocate((long)tokens * vo))
        {
            Backend.GatedDelta.Rule(shape, batch, qd, kd, vd, gd, bd, sd, od, true, scale, mode);
            o = Download(Backend, od);
            states = Download(Backend, sd);
        }

        var cu = batch.CuSeqlens.ToArray();
        for (int b = 0; b < sequences; b++)
        {
            int t0 = cu[b], n = lengths[b], s = slotIds[b];
            using var qd = Backend.Upload(Rows(q, t0, n, qk));
            using var kd = Backend.Upload(Rows(k, t0, n, qk));
            using var vd = Backend.Upload(Rows(v, t0, n, vo));
            using var gd = Backend.Upload(Rows(g, t0, n, heads));
            using var bd = Backend.Upload(Rows(beta, t0, n, heads));
            using var sd = Backend.Upload(Rows(pool, s, 1, slot));
            using var od = Backend.Allocate((long)n * vo);
            Backend.GatedDelta.Rule(shape with { Tokens = n }, qd, kd, vd, gd, bd, sd, od, true, scale, mode);
            AssertClose($"o of sequence {b} (length {n})", Rows(o, t0, n, vo), Download(Backend, od), 0);
            AssertClose($"state of sequence {b} in slot {s}", Rows(states, s, 1, slot), Download(Backend, sd), 0);
        }

        for (int spare = 0; spare < slots - sequences; spare++)
        {
            AssertClose($"unused slot {spare}", Rows(states, spare, 1, slot), Rows(pool, spare, 1, slot), 0);
        }
    }
}
