using System.Numerics;
using System.Runtime.InteropServices;

namespace Qwen3Next.PtxEmulator.Execution;

/// <summary>
/// 32 lanes with a register file laid out register-major (<c>R[reg·32 + lane]</c>, raw bits in 64-bit slots) and a
/// program counter per lane. While every runnable lane is at the same instruction the warp is <see cref="Converged"/>
/// and only <see cref="WarpPc"/> is kept; after a divergent branch each lane has its own <see cref="Pc"/>, and the
/// scheduler steps the lanes with the lowest PC first, so they reconverge where their paths meet (the scheme of
/// tinygrad's PTX emulator; no post-dominator analysis is needed).
/// </summary>
internal sealed unsafe class Warp : IDisposable
{
    public Warp(int index, int registerCount)
    {
        Index = index;
        R = (ulong*)NativeMemory.AllocZeroed((nuint)Math.Max(1, registerCount) * 32, sizeof(ulong));
        Pending = new byte[Math.Max(1, registerCount)];
        AsyncRegisters = new byte[Math.Max(1, registerCount)];
    }

    public int Index { get; }

    /// <summary>The register file: register r of lane l at <c>R[r·32 + l]</c>.</summary>
    public ulong* R { get; private set; }

    public int[] Pc { get; } = new int[32];

    /// <summary>Lanes that exist and have not exited.</summary>
    public uint Live;

    /// <summary>Lanes waiting at a CTA barrier (their PC is the barrier instruction).</summary>
    public uint BarrierWait;

    /// <summary>Lanes waiting at a warp collective for other lanes of its member mask.</summary>
    public uint CollectiveWait;

    public bool Converged;

    public int WarpPc;

    public int BarrierId;

    /// <summary>Incremented at every warp-level synchronisation (shfl.sync, bar.warp.sync, vote.sync, mma.sync):
    /// shared-memory accesses of one warp separated by one are ordered.</summary>
    public int SyncEpoch;

    /// <summary>Registers written by a global load whose value has not been used yet (round-trip counting).</summary>
    public byte[] Pending { get; }

    private readonly List<int> pendingList = [];

    public bool AnyPending => pendingList.Count > 0;

    public void MarkPending(int register)
    {
        if (Pending[register] == 0)
        {
            Pending[register] = 1;
            pendingList.Add(register);
        }
    }

    /// <summary>The warp waited for its loads: nothing is pending any more.</summary>
    public void ClearPending()
    {
        foreach (int r in pendingList)
        {
            Pending[r] = 0;
        }

        pendingList.Clear();
    }

    /// <summary>Dependent global-memory waits (round trips); a cp.async.wait_group N that must complete a group counts
    /// 1 / (N + 1), since N + 1 groups overlap their latency.</summary>
    public double RoundTrips;

    /// <summary>A wgmma.fence ran since the last wgmma.commit_group (a wgmma.mma_async needs one before it).</summary>
    public bool WgmmaFenced;

    /// <summary>The shared words and accumulator registers of the wgmmas issued since the last commit, and of the
    /// committed groups not yet waited for (oldest first).</summary>
    public WgmmaGroup OpenGroup = new();

    public Queue<WgmmaGroup> CommittedGroups { get; } = new();

    /// <summary>Per register: how many in-flight wgmmas write it as an accumulator (reading or writing it otherwise
    /// before wgmma.wait_group is a finding).</summary>
    public byte[] AsyncRegisters { get; }

    public int AsyncRegistersInFlight;

    /// <summary>Forgets every wgmma of the previous CTA.</summary>
    public void ResetAsync()
    {
        WgmmaFenced = false;
        OpenGroup = new WgmmaGroup();
        CommittedGroups.Clear();
        Array.Clear(AsyncRegisters);
        AsyncRegistersInFlight = 0;
    }

    public uint Runnable => Live & ~BarrierWait & ~CollectiveWait;

    /// <summary>Gives every live lane its own PC (entering divergence).</summary>
    public void Diverge()
    {
        if (!Converged)
        {
            return;
        }

        for (int l = 0; l < 32; l++)
        {
            Pc[l] = WarpPc;
        }

        Converged = false;
    }

    /// <summary>Back to one PC when all live lanes are at the same instruction and none is waiting.</summary>
    public void TryReconverge()
    {
        if (Converged || Live == 0 || BarrierWait != 0 || CollectiveWait != 0)
        {
            return;
        }

        int first = BitOperations.TrailingZeroCount(Live);
        int pc = Pc[first];
        for (uint m = Live; m != 0; m &= m - 1)
        {
            if (Pc[BitOperations.TrailingZeroCount(m)] != pc)
            {
                return;
            }
        }

        WarpPc = pc;
        Converged = true;
    }

    public void Dispose()
    {
        if (R != null)
        {
            NativeMemory.Free(R);
            R = null;
        }
    }
}

/// <summary>One wgmma commit group of a warp: the shared-memory words its wgmmas read and the accumulator registers
/// they write, released by the wgmma.wait_group that completes the group.</summary>
internal sealed class WgmmaGroup
{
    public List<int> Words { get; } = [];

    public List<int> Registers { get; } = [];
}
