using System.Numerics;
using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Memory;

namespace Qwen3Next.PtxEmulator.Sanitizer;

/// <summary>Thrown inside the interpreter when a launch has collected its maximum number of findings.</summary>
internal sealed class FindingLimitReached : Exception;

/// <summary>
/// The sanitizer state of one launch: its findings (deduplicated per rule and instruction), the shared-memory
/// shadow of the running CTA, and the global race shadow. Shared-memory race rule: within one barrier interval,
/// a word written by thread A and read or written by thread B ≠ A is a race, unless A and B are in the same warp
/// and a warp-level synchronisation (shfl.sync, bar.warp.sync, vote.sync, mma.sync) separates the accesses.
/// Global race rule: a word written by block A and read or written by block B ≠ A in one launch (atomics and morally
/// strong accesses — volatile, or relaxed/acquire/release at gpu or sys scope — excepted).
/// </summary>
internal sealed class LaunchSanitizer
{
    private const int ManyThreads = -1;

    private readonly Dictionary<(SanitizerRule, int), SanitizerFinding> seen = [];
    private readonly DecodedKernel kernel;
    private readonly int maxFindings;
    private readonly long launchEpoch;

    // Shared-memory shadow of the running CTA, one entry per 4-byte word (arrays of the device's SharedShadow).
    private readonly SharedShadow shadow;
    private readonly int[] writer, writerEpoch, writerSync, reader, readerWarp, readerEpoch, readerSync;
    private readonly ulong[] sharedInit;

    public LaunchSanitizer(DecodedKernel kernel, bool checks, int maxFindings, long launchEpoch, int sharedBytes, SharedShadow shadow)
    {
        this.kernel = kernel;
        Checks = checks;
        this.maxFindings = maxFindings;
        this.launchEpoch = launchEpoch;
        this.shadow = shadow;
        if (checks)
        {
            shadow.Ensure((sharedBytes + 3) / 4);
        }

        (writer, writerEpoch, writerSync) = (shadow.Writer, shadow.WriterEpoch, shadow.WriterSync);
        (reader, readerWarp, readerEpoch, readerSync) = (shadow.Reader, shadow.ReaderWarp, shadow.ReaderEpoch, shadow.ReaderSync);
        sharedInit = new ulong[checks ? (sharedBytes + 63) / 64 : 0];
    }

    /// <summary>Race, initialisation and non-coherent checks are on (bounds and barrier checks always are).</summary>
    public bool Checks { get; }

    public List<SanitizerFinding> Findings { get; } = [];

    /// <summary>The barrier interval of the running CTA (unique across CTAs of the launch).</summary>
    public int BarrierEpoch { get; private set; }

    public (int X, int Y, int Z) Block { get; set; }

    public long BlockLinear { get; set; }

    public (int X, int Y, int Z) BlockDim { get; set; }

    public void BeginCta()
    {
        BarrierEpoch = shadow.NextEpoch();
        Array.Clear(sharedInit);
        if (asyncWriter is not null)
        {
            ctaFirstEpoch = BarrierEpoch;
            Array.Clear(asyncWriter);
            Array.Clear(asyncReaders!);
            for (int t = 0; t < threadFenceGeneration!.Length; t++)
            {
                threadFenceGeneration[t] = ++fenceCounter;
            }
        }
    }

    // Asynchronous operations (kernels with cp.async or wgmma only), per 4-byte shared word: the thread (+1) whose
    // cp.async into it is in flight, how many in-flight wgmmas read it, and the writer's fence generation at its last
    // generic-proxy write; per thread its current generation (a fence.proxy.async starts a new one).
    private int[]? asyncWriter, asyncReaders, writerFence, threadFenceGeneration;
    private int fenceCounter, ctaFirstEpoch;

    /// <summary>Turns on the in-flight and proxy-fence checks of <c>cp.async</c> and <c>wgmma</c> (with <see cref="Checks"/>).</summary>
    public void EnableAsync(int sharedBytes, int threads)
    {
        if (!Checks)
        {
            return;
        }

        int words = (sharedBytes + 3) / 4;
        (asyncWriter, asyncReaders, writerFence) = (new int[words], new int[words], new int[words]);
        threadFenceGeneration = new int[threads];
    }

    /// <summary>A cp.async of <paramref name="bytes"/> into <paramref name="offset"/> was issued by <paramref name="tid"/>.</summary>
    public void CopyIssued(int pc, int tid, uint offset, int bytes)
    {
        if (asyncWriter is null)
        {
            return;
        }

        for (int w = (int)(offset >> 2); w <= (int)((offset + (uint)bytes - 1) >> 2); w++)
        {
            if (asyncWriter[w] != 0)
            {
                Report(SanitizerRule.AsyncHazard, pc, tid, KernelDecoderWindows.Shared + ((uint)w * 4),
                    $"cp.async into shared offset {w * 4}, where thread {ThreadText(asyncWriter[w] - 1)}'s cp.async is still in flight (no cp.async.wait_group between them)");
            }

            if (asyncReaders![w] > 0)
            {
                Report(SanitizerRule.AsyncHazard, pc, tid, KernelDecoderWindows.Shared + ((uint)w * 4),
                    $"cp.async into shared offset {w * 4}, which an in-flight wgmma.mma_async reads (before the wgmma.wait_group that completes it)");
            }

            asyncWriter[w] = tid + 1;
        }
    }

    /// <summary>The issuing thread's cp.async.wait_group completed the copy: its bytes land now, as that thread's write.</summary>
    public void CopyCompleted(int pc, int tid, int warpSync, uint offset, int bytes)
    {
        if (Checks)
        {
            ClearCopy(tid, offset, bytes);
            Shared(pc, tid, warpSync, offset, bytes, write: true, atomic: false);
        }
    }

    /// <summary>Forgets a copy that never completed (its thread exited without waiting).</summary>
    public void ClearCopy(int tid, uint offset, int bytes)
    {
        if (asyncWriter is null)
        {
            return;
        }

        for (int w = (int)(offset >> 2); w <= (int)((offset + (uint)bytes - 1) >> 2); w++)
        {
            if (asyncWriter[w] == tid + 1)
            {
                asyncWriter[w] = 0;
            }
        }
    }

    /// <summary>A wgmma of thread <paramref name="tid"/>'s warp reads the shared word at <paramref name="offset"/> (async proxy).</summary>
    public void WgmmaRead(int pc, int tid, int warpSync, uint offset)
    {
        if (asyncWriter is null)
        {
            return;
        }

        int w = (int)(offset >> 2);
        if (asyncWriter[w] != 0)
        {
            Report(SanitizerRule.AsyncHazard, pc, tid, KernelDecoderWindows.Shared + offset,
                $"wgmma reads shared offset {w * 4} while thread {ThreadText(asyncWriter[w] - 1)}'s cp.async into it is in flight (before its cp.async.wait_group)");
        }

        int writerTid = writer[w] - 1;
        if (writerTid >= 0 && writerEpoch[w] >= ctaFirstEpoch && writerTid < threadFenceGeneration!.Length
            && writerFence![w] == threadFenceGeneration[writerTid])
        {
            Report(SanitizerRule.MissingProxyFence, pc, tid, KernelDecoderWindows.Shared + offset,
                $"wgmma (async proxy) reads shared offset {w * 4}, which thread {ThreadText(writerTid)} wrote through the generic proxy with no fence.proxy.async after the write");
        }

        Shared(pc, tid, warpSync, offset, 4, write: false, atomic: false);
        asyncReaders![w]++;
    }

    /// <summary>The wgmma group that read the shared word at <paramref name="word"/> (index) completed.</summary>
    public void WgmmaReleased(int word)
    {
        if (asyncReaders is not null)
        {
            asyncReaders[word]--;
        }
    }

    /// <summary><c>fence.proxy.async</c> by <paramref name="tid"/>: its earlier generic-proxy writes are visible to the async proxy.</summary>
    public void ProxyFence(int tid)
    {
        if (threadFenceGeneration is not null)
        {
            threadFenceGeneration[tid] = ++fenceCounter;
        }
    }

    /// <summary>A register a wgmma in flight writes was used before its wgmma.wait_group.</summary>
    public void AsyncRegister(int pc, int tid, int register, string what)
        => Report(SanitizerRule.AsyncHazard, pc, tid, 0, $"{what} register {register} is an accumulator of a wgmma.mma_async still in flight (use it only after wgmma.wait_group)");

    public void BarrierReleased() => BarrierEpoch = shadow.NextEpoch();

    public (int X, int Y, int Z) ThreadOf(int tid)
        => (tid % BlockDim.X, tid / BlockDim.X % BlockDim.Y, tid / (BlockDim.X * BlockDim.Y));

    public void Report(SanitizerRule rule, int pc, int tid, ulong address, string detail)
    {
        if (seen.TryGetValue((rule, pc), out var existing))
        {
            existing.Count++;
            return;
        }

        var instr = kernel.Code[pc];
        var finding = new SanitizerFinding(rule, kernel.Name, instr.Line, kernel.Source[pc], ThreadOf(Math.Max(0, tid)), Block, address, detail);
        seen[(rule, pc)] = finding;
        Findings.Add(finding);
        if (Findings.Count >= maxFindings)
        {
            throw new FindingLimitReached();
        }
    }

    /// <summary>Checks and records a shared access of <paramref name="bytes"/> at <paramref name="offset"/> by thread <paramref name="tid"/>.</summary>
    public void Shared(int pc, int tid, int warpSync, uint offset, int bytes, bool write, bool atomic)
    {
        int first = (int)(offset >> 2), last = (int)((offset + (uint)bytes - 1) >> 2);
        int epoch = BarrierEpoch, warp = tid >> 5, me = tid + 1;
        // Accesses are naturally aligned and at most 16 bytes, so their init bits sit in one 64-bit word.
        ulong bits = (bytes >= 64 ? ulong.MaxValue : (1ul << bytes) - 1) << (int)(offset & 63);
        ref ulong initWord = ref sharedInit[offset >> 6];
        if (!write)
        {
            if ((initWord & bits) != bits)
            {
                long i = offset + BitOperations.TrailingZeroCount(~initWord & bits) - (offset & 63);
                Report(SanitizerRule.UninitialisedRead, pc, tid, KernelDecoderWindows.Shared + offset,
                    $"shared memory at offset {i} is read before any thread of the block wrote it");
            }
        }
        else
        {
            initWord |= bits;
        }

        if (atomic)
        {
            return;
        }

        for (int w = first; w <= last; w++)
        {
            if (asyncWriter is not null)
            {
                AsyncChecks(pc, tid, w, write);
            }

            if (writerEpoch[w] == epoch && writer[w] != me && !Ordered(writer[w] - 1, writerSync[w], warp, warpSync))
            {
                Report(SanitizerRule.SharedRace, pc, tid, KernelDecoderWindows.Shared + ((uint)w * 4),
                    $"{(write ? "write-after-write" : "read-after-write")} hazard on shared offset {w * 4}: thread {ThreadText(writer[w] - 1)} wrote it in the same barrier interval");
            }

            if (write)
            {
                bool readByOthers = readerEpoch[w] == epoch && reader[w] != me;
                bool readsOrdered = readerWarp[w] == warp && readerSync[w] != warpSync;
                if (readByOthers && !readsOrdered)
                {
                    string who = reader[w] == ManyThreads ? "other threads" : $"thread {ThreadText(reader[w] - 1)}";
                    Report(SanitizerRule.SharedRace, pc, tid, KernelDecoderWindows.Shared + ((uint)w * 4),
                        $"write-after-read hazard on shared offset {w * 4}: {who} read it in the same barrier interval");
                }

                writer[w] = me;
                writerEpoch[w] = epoch;
                writerSync[w] = warpSync;
            }
            else if (readerEpoch[w] != epoch)
            {
                reader[w] = me;
                readerWarp[w] = warp;
                readerEpoch[w] = epoch;
                readerSync[w] = warpSync;
            }
            else
            {
                if (reader[w] != me)
                {
                    reader[w] = ManyThreads;
                }

                if (readerWarp[w] != warp)
                {
                    readerWarp[w] = ManyThreads;
                }

                readerSync[w] = Math.Max(readerSync[w], warpSync);
            }
        }
    }

    /// <summary>An ordinary access of word <paramref name="w"/> against the asynchronous operations in flight on it.</summary>
    private void AsyncChecks(int pc, int tid, int w, bool write)
    {
        if (asyncWriter![w] != 0)
        {
            Report(SanitizerRule.AsyncHazard, pc, tid, KernelDecoderWindows.Shared + ((uint)w * 4),
                $"{(write ? "write to" : "read of")} shared offset {w * 4} while thread {ThreadText(asyncWriter[w] - 1)}'s cp.async into it is in flight (before its cp.async.wait_group)");
        }

        if (write)
        {
            if (asyncReaders![w] > 0)
            {
                Report(SanitizerRule.AsyncHazard, pc, tid, KernelDecoderWindows.Shared + ((uint)w * 4),
                    $"write to shared offset {w * 4}, which an in-flight wgmma.mma_async reads (before the wgmma.wait_group that completes it)");
            }

            writerFence![w] = threadFenceGeneration![tid];
        }
    }

    private static bool Ordered(int otherTid, int otherSync, int warp, int warpSync)
        => otherTid >> 5 == warp && otherSync != warpSync;

    private string ThreadText(int tid)
    {
        var (x, y, z) = ThreadOf(tid);
        return $"({x},{y},{z})";
    }

    /// <summary>Checks and records a global access (races are reported; the access proceeds as the hardware would
    /// perform it). Atomics are only checked for initialisation. Morally strong loads and stores (<paramref name="strong"/>:
    /// volatile, or relaxed/acquire/release at gpu or sys scope) never race with each other (PTX ISA §8.7): a strong
    /// write is recorded as such and only a weak access of another block conflicts with it; strong reads are not
    /// recorded (a weak write after another block's strong read is not reported). Whether the kernel orders its strong
    /// accesses (a fence and an atomic flag) is the kernel's business.</summary>
    public void Global(MemoryRegion region, int pc, int tid, ulong address, int bytes, bool write, bool nonCoherent, bool atomic, bool strong = false)
    {
        var shadow = region.Shadow ??= new GlobalShadow(region.Length);
        long offset = (long)(address - region.Start);
        long me = BlockLinear + 1;
        long thread = (BlockLinear * BlockDim.X * BlockDim.Y * BlockDim.Z) + tid + 1;
        long tag = launchEpoch << 32;
        if ((!write || atomic) && region.InitBits is not null)
        {
            long bad = region.FirstUninitialised(offset, bytes);
            if (bad >= 0)
            {
                Report(SanitizerRule.UninitialisedRead, pc, tid, address,
                    $"{region.Name} is read at byte {bad} before anything wrote it (cuMemAlloc memory is uninitialised)");
            }
        }

        if (atomic)
        {
            return;
        }

        for (long w = offset >> 2; w <= (offset + bytes - 1) >> 2; w++)
        {
            long wr = shadow.Writer[w], rd = shadow.Reader[w];
            bool writtenNow = (wr & ~0xFFFF_FFFFL) == tag;
            bool readNow = (rd & ~0xFFFF_FFFFL) == tag;
            bool bothStrong = strong && (wr & GlobalShadow.StrongWrite) != 0;
            if (write)
            {
                if (writtenNow && (wr & GlobalShadow.BlockMask) != me && !bothStrong)
                {
                    Report(SanitizerRule.GlobalRace, pc, tid, address,
                        $"write-after-write race on {region.Name}+{w * 4}: block {(wr & GlobalShadow.BlockMask) - 1} (linear) wrote it in this launch");
                }

                if (!strong && readNow && ((rd & GlobalShadow.MultipleReaders) != 0 || (rd & GlobalShadow.BlockMask) != me))
                {
                    Report(SanitizerRule.GlobalRace, pc, tid, address,
                        $"write-after-read race on {region.Name}+{w * 4}: another block read it in this launch");
                }

                // A thread may overwrite what it alone read through the read-only path; another thread's
                // non-coherent read of a word written in the same launch may see either value.
                if (readNow && (rd & GlobalShadow.NonCoherentRead) != 0 && shadow.NonCoherentReader[w] != thread)
                {
                    Report(SanitizerRule.NonCoherentWrite, pc, tid, address,
                        $"{region.Name}+{w * 4} was read through ld.global.nc (read-only path) by another thread and is written in the same launch");
                }

                shadow.Writer[w] = tag | me | (strong ? GlobalShadow.StrongWrite : 0);
            }
            else
            {
                if (writtenNow && (wr & GlobalShadow.BlockMask) != me && !bothStrong)
                {
                    Report(SanitizerRule.GlobalRace, pc, tid, address,
                        $"read-after-write race on {region.Name}+{w * 4}: block {(wr & GlobalShadow.BlockMask) - 1} (linear) wrote it in this launch");
                }

                if (nonCoherent && writtenNow)
                {
                    Report(SanitizerRule.NonCoherentWrite, pc, tid, address,
                        $"ld.global.nc reads {region.Name}+{w * 4}, which this launch wrote (the read-only path may return the old value)");
                }

                if (nonCoherent)
                {
                    bool ncBefore = readNow && (rd & GlobalShadow.NonCoherentRead) != 0;
                    shadow.NonCoherentReader[w] = !ncBefore || shadow.NonCoherentReader[w] == thread ? thread : -1;
                }

                if (strong)
                {
                    continue;
                }

                long flags = nonCoherent ? GlobalShadow.NonCoherentRead : 0;
                shadow.Reader[w] = !readNow ? tag | me | flags
                    : (rd & GlobalShadow.BlockMask) == me ? rd | flags
                    : rd | GlobalShadow.MultipleReaders | flags;
            }
        }
    }
}

/// <summary>The generic-address windows, shared with the decoder (kept here so findings can print generic addresses).</summary>
internal static class KernelDecoderWindows
{
    public const ulong Shared = KernelDecoder.SharedWindow;
    public const ulong Local = KernelDecoder.LocalWindow;
}
