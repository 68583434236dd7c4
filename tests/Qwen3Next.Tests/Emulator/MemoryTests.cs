using NUnit.Framework;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// ld/st (vectors, sign and zero extension into 32- and 64-bit registers), atomics on shared and global memory
/// (PTX ISA §9.7.13.5), generic addressing through cvta windows, and initialised module globals.
/// </summary>
[TestFixture]
public sealed class MemoryTests
{
    [Test]
    public void VectorLoadsAndStoresKeepElementOrder([Values] bool counters)
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry vectors(.param .u64 in, .param .u64 out)
            {
                .shared .align 16 .b8 stage[1024];
                .reg .b32 %r<8>, %tid, %off;
                .reg .f32 %f<4>;
                .reg .b64 %rd<8>;
                mov.u32 %tid, %tid.x;
                ld.param.u64 %rd0, [in];
                ld.param.u64 %rd1, [out];
                mul.wide.u32 %rd2, %tid, 16;
                add.s64 %rd3, %rd0, %rd2;
                add.s64 %rd4, %rd1, %rd2;
                ld.global.v4.u32 {%r0, %r1, %r2, %r3}, [%rd3];
                st.global.v4.u32 [%rd4], {%r3, %r2, %r1, %r0};
                ld.global.v2.f32 {%f0, %f1}, [%rd3+8];
                shl.b32 %off, %tid, 4;
                mov.u32 %r4, stage;
                add.s32 %off, %off, %r4;
                st.shared.v2.f32 [%off], {%f1, %f0};
                st.shared.v2.u32 [%off+8], {%r1, %r0};
                bar.sync 0;
                ld.shared.v4.u32 {%r4, %r5, %r6, %r7}, [%off];
                mul.wide.u32 %rd2, %tid, 16;
                add.s64 %rd5, %rd4, 1024;
                st.global.v4.u32 [%rd5], {%r4, %r5, %r6, %r7};
                ld.global.v2.u64 {%rd6, %rd7}, [%rd3];
                add.s64 %rd5, %rd4, 2048;
                st.global.v2.u64 [%rd5], {%rd7, %rd6};
                ret;
            }
            """;
        using var gpu = new EmulatedGpu(new EmulatorOptions { Counters = counters });
        uint[] input = Enumerable.Range(0, 64 * 4).Select(i => (uint)((i * 2654435761u) ^ 0x5A5A_0000)).ToArray();
        var output = gpu.Memory.Allocate(3 * 1024, "out");
        PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 64), PtxTestKernels.Upload<uint>(gpu, input, "in"), output);
        var result = PtxTestKernels.Download<uint>(gpu, output, 3 * 256);
        for (int t = 0; t < 64; t++)
        {
            uint[] e = input[(t * 4)..((t * 4) + 4)];
            Assert.That(result[(t * 4)..((t * 4) + 4)], Is.EqualTo(new[] { e[3], e[2], e[1], e[0] }), $"thread {t}: v4 reversed");
            Assert.That(result[(256 + (t * 4))..(256 + (t * 4) + 4)], Is.EqualTo(new[] { e[3], e[2], e[1], e[0] }), $"thread {t}: through shared");
            Assert.That(result[(512 + (t * 4))..(512 + (t * 4) + 4)], Is.EqualTo(new[] { e[2], e[3], e[0], e[1] }), $"thread {t}: v2.u64 swapped");
        }
    }

    /// <summary>
    /// A 32-bit address register with an immediate offset wraps modulo 2^32, as the hardware computes shared-window
    /// addresses: nvcc folds loop offsets into the immediate and leaves the register "negative" (seen in
    /// gdn_chunk_state_pass at Dk = 16). A 64-bit register does not wrap: the same sum is out of bounds.
    /// </summary>
    [Test]
    public void ThirtyTwoBitSharedAddressesWrapLikeTheHardware()
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry wrap(.param .u64 out)
            {
                .shared .align 4 .b8 cells[64];
                .reg .b32 %r<4>;
                .reg .b64 %rd<2>;
                mov.u32 %r0, cells;
                mov.u32 %r1, 77;
                st.shared.u32 [%r0+8], %r1;
                sub.s32 %r2, %r0, 4096;
                ld.shared.u32 %r3, [%r2+4104];
                ld.param.u64 %rd0, [out];
                st.global.u32 [%rd0], %r3;
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var output = gpu.Memory.Allocate(4, "out");
        PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 1), output);
        Assert.That(PtxTestKernels.Download<uint>(gpu, output, 1)[0], Is.EqualTo(77u));

        string wide = PtxTestKernels.Header + """
            .visible .entry wrap(.param .u64 out)
            {
                .shared .align 4 .b8 cells[64];
                .reg .b32 %r<4>;
                .reg .b64 %rd<4>;
                mov.u32 %r0, cells;
                sub.s32 %r2, %r0, 4096;
                cvt.u64.u32 %rd3, %r2;
                ld.shared.u32 %r3, [%rd3+4104];
                ld.param.u64 %rd0, [out];
                st.global.u32 [%rd0], %r3;
                ret;
            }
            """;
        var fault = Assert.Throws<PtxKernelFaultException>(() => PtxTestKernels.Launch(gpu, wide, new LaunchGeometry(1, 1), output));
        Assert.That(fault!.Findings.Select(f => f.Rule), Has.Member(Qwen3Next.PtxEmulator.Sanitizer.SanitizerRule.OutOfBounds));
    }

    [Test]
    public void NarrowLoadsExtendBySignednessIntoTheRegister([Values] bool counters)
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry extend(.param .u64 in, .param .u64 out)
            {
                .reg .b32 %r<6>;
                .reg .b64 %rd<8>;
                ld.param.u64 %rd0, [in];
                ld.param.u64 %rd1, [out];
                ld.global.s16 %r0, [%rd0];
                ld.global.u16 %r1, [%rd0];
                ld.global.s8 %r2, [%rd0+1];
                ld.global.u8 %r3, [%rd0+1];
                st.global.v4.u32 [%rd1], {%r0, %r1, %r2, %r3};
                ld.global.s16 %rd2, [%rd0];
                ld.global.s32 %rd3, [%rd0+4];
                ld.global.u32 %rd4, [%rd0+4];
                ld.global.s8 %rd5, [%rd0+1];
                st.global.v2.u64 [%rd1+16], {%rd2, %rd3};
                st.global.v2.u64 [%rd1+32], {%rd4, %rd5};
                ret;
            }
            """;
        using var gpu = new EmulatedGpu(new EmulatorOptions { Counters = counters });
        byte[] input = [0x34, 0x92, 0, 0, 0xF0, 0xFF, 0xFF, 0x87];
        var output = gpu.Memory.Allocate(48, "out");
        PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 1), PtxTestKernels.Upload<byte>(gpu, input, "in"), output);
        var words = PtxTestKernels.Download<uint>(gpu, output, 4);
        var longs = PtxTestKernels.Download<ulong>(gpu, output, 6);
        Assert.That(words, Is.EqualTo(new uint[] { 0xFFFF_9234, 0x0000_9234, 0xFFFF_FF92, 0x0000_0092 }), "s16, u16, s8, u8 into 32-bit registers");
        Assert.That(longs[2..], Is.EqualTo(new ulong[] { 0xFFFF_FFFF_FFFF_9234, 0xFFFF_FFFF_87FF_FFF0, 0x0000_0000_87FF_FFF0, 0xFFFF_FFFF_FFFF_FF92 }),
            "s16, s32, u32, s8 into 64-bit registers");
    }

    private static string AtomicKernel(string space, string operation, string type) => PtxTestKernels.Header + $$"""
        .visible .entry atomic(.param .u64 target, .param .u64 operands, .param .u64 olds, .param .u64 operands2)
        {
            .shared .align 8 .b8 cell[8];
            .reg .pred %first;
            .reg .b32 %tid, %s;
            .reg .{{type}} %v, %w, %old;
            .reg .b64 %rd<8>, %cellValue;
            mov.u32 %tid, %tid.x;
            ld.param.u64 %rd0, [target];
            ld.param.u64 %rd1, [operands];
            ld.param.u64 %rd2, [olds];
            ld.param.u64 %rd6, [operands2];
            mul.wide.u32 %rd3, %tid, 8;
            add.s64 %rd1, %rd1, %rd3;
            add.s64 %rd2, %rd2, %rd3;
            add.s64 %rd6, %rd6, %rd3;
            ld.global.{{type}} %v, [%rd1];
            ld.global.{{type}} %w, [%rd6];
            setp.eq.u32 %first, %tid, 0;
            mov.u32 %s, cell;
            {{(space == "shared" ? """
            @%first ld.global.b64 %cellValue, [%rd0];
            @%first st.shared.b64 [%s], %cellValue;
            bar.sync 0;
            """ : "")}}
            {{(space == "shared"
                ? $"atom.shared.{operation}.{type} %old, [%s], %v{(operation == "cas" ? ", %w" : "")};"
                : $"atom.global.{operation}.{type} %old, [%rd0], %v{(operation == "cas" ? ", %w" : "")};")}}
            st.global.{{type}} [%rd2], %old;
            {{(space == "shared" ? """
            bar.sync 0;
            @%first ld.shared.b64 %cellValue, [%s];
            @%first st.global.b64 [%rd0], %cellValue;
            """ : "")}}
            ret;
        }
        """;

    /// <summary>Runs one atomic per thread (64 threads, two warps) and returns the final value and each thread's old value.</summary>
    private static (ulong Final, ulong[] Olds) RunAtomic(string space, string operation, string type, ulong initial, ulong[] operands, ulong[]? second = null)
    {
        using var gpu = new EmulatedGpu();
        var target = PtxTestKernels.Upload<ulong>(gpu, [initial], "target");
        var olds = PtxTestKernels.Upload<ulong>(gpu, new ulong[operands.Length], "olds");
        PtxTestKernels.Launch(gpu, AtomicKernel(space, operation, type), new LaunchGeometry(1, operands.Length), target,
            PtxTestKernels.Upload<ulong>(gpu, operands, "operands"), olds, PtxTestKernels.Upload<ulong>(gpu, second ?? new ulong[operands.Length], "operands2"));
        ulong mask = type.EndsWith("64") ? ulong.MaxValue : 0xFFFF_FFFF;
        return (PtxTestKernels.Download<ulong>(gpu, target, 1)[0] & mask, PtxTestKernels.Download<ulong>(gpu, olds, operands.Length).Select(o => o & mask).ToArray());
    }

    /// <summary>The old values must replay as one serial order of the updates that ends at the final value.</summary>
    private static void AssertSerialisable(ulong initial, ulong final, ulong[] operands, ulong[] olds, Func<ulong, ulong, ulong> update, string what)
    {
        var pending = Enumerable.Range(0, operands.Length).ToList();
        ulong value = initial;
        while (pending.Count > 0)
        {
            int next = pending.FindIndex(i => olds[i] == value);
            Assert.That(next, Is.GreaterThanOrEqualTo(0), $"{what}: no thread saw the value {value:X} (olds: {string.Join(",", olds.Select(o => o.ToString("X")))})");
            value = update(value, operands[pending[next]]);
            pending.RemoveAt(next);
        }

        Assert.That(final, Is.EqualTo(value), $"{what}: final value");
    }

    [Test]
    public void IntegerAtomicsSerialiseOnSharedAndGlobalMemory([Values("shared", "global")] string space)
    {
        var rng = new Random(101);
        ulong[] small = Enumerable.Range(0, 64).Select(i => (ulong)(i + 1)).ToArray();
        ulong[] signed = Enumerable.Range(0, 64).Select(_ => (ulong)(uint)rng.Next(int.MinValue, int.MaxValue)).ToArray();
        ulong[] wide = Enumerable.Range(0, 64).Select(_ => (ulong)rng.NextInt64()).ToArray();

        var add = RunAtomic(space, "add", "u32", 5, small);
        AssertSerialisable(5, add.Final, small, add.Olds, (v, x) => (uint)(v + x), "atom.add.u32");
        Assert.That(add.Final, Is.EqualTo(5ul + (64 * 65 / 2)));

        var min = RunAtomic(space, "min", "s32", 0, signed);
        AssertSerialisable(0, min.Final, signed, min.Olds, (v, x) => (uint)Math.Min((int)(uint)v, (int)(uint)x), "atom.min.s32");
        var max = RunAtomic(space, "max", "u32", 7, signed);
        AssertSerialisable(7, max.Final, signed, max.Olds, (v, x) => Math.Max((uint)v, (uint)x), "atom.max.u32");
        var exch = RunAtomic(space, "exch", "b32", 0xAAAA, signed);
        AssertSerialisable(0xAAAA, exch.Final, signed, exch.Olds, (_, x) => x, "atom.exch.b32");
        var and = RunAtomic(space, "and", "b32", 0xFFFF_FFFF, signed);
        AssertSerialisable(0xFFFF_FFFF, and.Final, signed, and.Olds, (v, x) => v & x, "atom.and.b32");
        var or = RunAtomic(space, "or", "b32", 0, signed);
        AssertSerialisable(0, or.Final, signed, or.Olds, (v, x) => v | x, "atom.or.b32");
        var xor = RunAtomic(space, "xor", "b32", 0x1234, signed);
        AssertSerialisable(0x1234, xor.Final, signed, xor.Olds, (v, x) => v ^ x, "atom.xor.b32");

        // inc/dec wrap at the operand (PTX ISA: inc → old >= b ? 0 : old + 1; dec → old == 0 || old > b ? b : old - 1).
        ulong[] nines = Enumerable.Repeat(9ul, 64).ToArray();
        var inc = RunAtomic(space, "inc", "u32", 0, nines);
        AssertSerialisable(0, inc.Final, nines, inc.Olds, (v, b) => v >= b ? 0 : v + 1, "atom.inc.u32");
        Assert.That(inc.Final, Is.EqualTo(64ul % 10));
        var dec = RunAtomic(space, "dec", "u32", 5, nines);
        AssertSerialisable(5, dec.Final, nines, dec.Olds, (v, b) => v == 0 || v > b ? b : v - 1, "atom.dec.u32");
        Assert.That(dec.Final, Is.EqualTo(1ul));

        var add64 = RunAtomic(space, "add", "u64", ulong.MaxValue - 3, wide);
        AssertSerialisable(ulong.MaxValue - 3, add64.Final, wide, add64.Olds, (v, x) => v + x, "atom.add.u64");
        var max64 = RunAtomic(space, "max", "s64", 0, wide);
        AssertSerialisable(0, max64.Final, wide, max64.Olds, (v, x) => (ulong)Math.Max((long)v, (long)x), "atom.max.s64");
    }

    [Test]
    public void CompareAndSwapOnlyReplacesTheExpectedValue([Values("shared", "global")] string space)
    {
        // Thread i swaps i → i + 1: exactly one chain 0 → 1 → … succeeds in order; the others see a different value.
        ulong[] compare = Enumerable.Range(0, 64).Select(i => (ulong)i).ToArray();
        ulong[] swap = compare.Select(c => c + 1).ToArray();
        var cas = RunAtomic(space, "cas", "b32", 0, compare, swap);
        var cas64 = RunAtomic(space, "cas", "b64", 0x1_0000_0000, compare.Select(c => c + 0x1_0000_0000).ToArray(), swap.Select(c => c + 0x1_0000_0000).ToArray());
        Assert.That(cas.Final, Is.EqualTo(64ul), "lanes run in order, so every compare matches in turn");
        Assert.That(cas.Olds, Is.EqualTo(compare));
        Assert.That(cas64.Final, Is.EqualTo(0x1_0000_0040ul));

        var mismatch = RunAtomic(space, "cas", "b32", 1000, compare, swap);
        Assert.That(mismatch.Final, Is.EqualTo(1000ul));
        Assert.That(mismatch.Olds, Is.All.EqualTo(1000ul));
    }

    [Test]
    public void FloatAtomicAddAccumulates([Values("shared", "global")] string space)
    {
        ulong[] values = Enumerable.Range(0, 64).Select(i => (ulong)BitConverter.SingleToUInt32Bits(i * 0.5f)).ToArray();
        var add = RunAtomic(space, "add", "f32", BitConverter.SingleToUInt32Bits(1f), values);
        Assert.That(BitConverter.UInt32BitsToSingle((uint)add.Final), Is.EqualTo(1f + (63 * 64 / 4f)));
        AssertSerialisable(BitConverter.SingleToUInt32Bits(1f), add.Final, values, add.Olds,
            (v, x) => BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle((uint)v) + BitConverter.UInt32BitsToSingle((uint)x)), "atom.add.f32");
    }

    [Test]
    public void CasLoopIncrementsUnderDivergence()
    {
        // Every thread retries atom.cas until its increment lands: a data-dependent loop whose trip count differs per lane.
        string ptx = PtxTestKernels.Header + """
            .visible .entry spin(.param .u64 counter)
            {
                .reg .pred %retry;
                .reg .b32 %old, %seen, %next;
                .reg .b64 %rd0;
                ld.param.u64 %rd0, [counter];
            RETRY:
                ld.volatile.global.u32 %old, [%rd0];
                add.s32 %next, %old, 1;
                atom.global.cas.b32 %seen, [%rd0], %old, %next;
                setp.ne.u32 %retry, %seen, %old;
                @%retry bra RETRY;
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var counter = PtxTestKernels.Upload<uint>(gpu, [0u], "counter");
        PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(3, 96), counter);
        Assert.That(PtxTestKernels.Download<uint>(gpu, counter, 1)[0], Is.EqualTo(3u * 96));
    }

    [Test]
    public void RedUpdatesWithoutReturningAValue()
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry reduce(.param .u64 sum)
            {
                .reg .b32 %tid;
                .reg .b64 %rd0;
                ld.param.u64 %rd0, [sum];
                mov.u32 %tid, %tid.x;
                red.global.add.u32 [%rd0], %tid;
                red.global.max.s32 [%rd0+4], %tid;
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var sum = PtxTestKernels.Upload<int>(gpu, [10, -5], "sum");
        PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(2, 50), sum);
        Assert.That(PtxTestKernels.Download<int>(gpu, sum, 2), Is.EqualTo(new[] { 10 + (2 * 49 * 50 / 2), 49 }));
    }

    [Test]
    public void GenericAddressesReachSharedLocalAndGlobalThroughCvta()
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry generic(.param .u64 out)
            {
                .shared .align 4 .b32 box[64];
                .local .align 8 .b8 frame[16];
                .reg .b32 %tid, %r<6>;
                .reg .b64 %rd<12>;
                mov.u32 %tid, %tid.x;
                mul.wide.u32 %rd0, %tid, 4;
                mov.u64 %rd1, box;
                cvta.shared.u64 %rd2, %rd1;
                add.s64 %rd3, %rd2, %rd0;
                add.s32 %r0, %tid, 1000;
                st.u32 [%rd3], %r0;
                cvta.to.shared.u64 %rd4, %rd3;
                cvt.u32.u64 %r1, %rd4;
                ld.shared.u32 %r2, [%r1];
                mov.u64 %rd5, frame;
                cvta.local.u64 %rd6, %rd5;
                mul.lo.s32 %r3, %tid, 3;
                st.u32 [%rd6+8], %r3;
                ld.local.u32 %r4, [frame+8];
                ld.param.u64 %rd7, [out];
                cvta.to.global.u64 %rd8, %rd7;
                mul.wide.u32 %rd9, %tid, 16;
                add.s64 %rd10, %rd7, %rd9;
                add.s64 %rd11, %rd8, %rd9;
                st.u32 [%rd10], %r2;
                st.global.u32 [%rd11+4], %r4;
                ld.u32 %r5, [%rd10];
                st.u32 [%rd10+8], %r5;
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var output = PtxTestKernels.Upload<uint>(gpu, new uint[64 * 4], "out");
        var result = PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 64), output);
        var values = PtxTestKernels.Download<uint>(gpu, output, 64 * 4);
        Assert.That(result.Findings, Is.Empty);
        for (int t = 0; t < 64; t++)
        {
            Assert.That(values[(t * 4)..((t * 4) + 3)], Is.EqualTo(new[] { (uint)(1000 + t), (uint)(3 * t), (uint)(1000 + t) }), $"thread {t}");
        }
    }

    private const string DynamicShared = """
        .extern .shared .align 16 .b8 dyn[];
        .visible .entry dynamic(.param .u64 out)
        {
            .shared .align 4 .b32 fixed[3];
            .reg .b32 %tid, %addr, %v, %size, %total, %base;
            .reg .b64 %rd<2>;
            mov.u32 %tid, %tid.x;
            mov.u32 %base, dyn;
            shl.b32 %addr, %tid, 2;
            add.s32 %addr, %addr, %base;
            st.shared.u32 [%addr], %tid; // dynamic store
            bar.sync 0;
            xor.b32 %v, %tid, 1;
            shl.b32 %v, %v, 2;
            add.s32 %addr, %v, %base;
            ld.shared.u32 %v, [%addr];
            mov.u32 %size, %dynamic_smem_size;
            mov.u32 %total, %total_smem_size;
            ld.param.u64 %rd0, [out];
            mul.wide.u32 %rd1, %tid, 16;
            add.s64 %rd0, %rd0, %rd1;
            st.global.v4.u32 [%rd0], {%v, %size, %total, %base};
            ret;
        }
        """;

    [Test]
    public void DynamicSharedMemoryFollowsStaticSharedMemory()
    {
        using var gpu = new EmulatedGpu();
        var output = gpu.Memory.Allocate(32 * 16, "out");
        PtxTestKernels.Launch(gpu, PtxTestKernels.Header + DynamicShared, new LaunchGeometry(1, 32, DynamicSharedBytes: 128), output);
        var values = PtxTestKernels.Download<uint>(gpu, output, 32 * 4);
        for (uint t = 0; t < 32; t++)
        {
            // 12 static bytes, then the dynamic array at the next 16-byte boundary.
            Assert.That(values[(int)(t * 4)..(int)((t * 4) + 4)], Is.EqualTo(new uint[] { t ^ 1, 128, 16 + 128, 16 }), $"thread {t}");
        }

        var error = Assert.Throws<PtxKernelFaultException>(() =>
            PtxTestKernels.Launch(gpu, PtxTestKernels.Header + DynamicShared, new LaunchGeometry(1, 32, DynamicSharedBytes: 64), output));
        var finding = error!.Findings.First(f => f.Rule == PtxEmulator.Sanitizer.SanitizerRule.OutOfBounds);
        Assert.That(finding.Thread, Is.EqualTo((16, 0, 0)), "the first word past 64 dynamic bytes");
        Assert.That(finding.Address, Is.EqualTo(16ul + 64));
    }

    [Test]
    public void AtomicsThroughGenericAddressesReachSharedMemory()
    {
        string ptx = PtxTestKernels.Header + """
            .visible .entry generic_atomic(.param .u64 out)
            {
                .shared .align 4 .b32 total[1];
                .reg .pred %first;
                .reg .b32 %tid, %old, %v;
                .reg .b64 %rd<4>;
                mov.u32 %tid, %tid.x;
                setp.eq.u32 %first, %tid, 0;
                mov.u64 %rd0, total;
                cvta.shared.u64 %rd1, %rd0;
                @%first st.u32 [%rd1], 0;
                bar.sync 0;
                atom.add.u32 %old, [%rd1], %tid;
                bar.sync 0;
                ld.u32 %v, [%rd1];
                ld.param.u64 %rd2, [out];
                @%first st.global.u32 [%rd2], %v;
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var output = gpu.Memory.Allocate(4, "out");
        Assert.That(PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 96), output).Findings, Is.Empty);
        Assert.That(PtxTestKernels.Download<uint>(gpu, output, 1)[0], Is.EqualTo((uint)(95 * 96 / 2)));
    }

    [Test]
    public void EachBlockStartsWithUnwrittenSharedMemory()
    {
        // Block 0 writes its tile before reading it; block 1 skips the write, so its read is of uninitialised shared memory.
        string ptx = PtxTestKernels.Header + """
            .visible .entry per_block(.param .u64 out)
            {
                .shared .align 4 .b32 tile[32];
                .reg .pred %second;
                .reg .b32 %tid, %cta, %addr, %v;
                .reg .b64 %rd<2>;
                mov.u32 %tid, %tid.x;
                mov.u32 %cta, %ctaid.x;
                setp.ne.u32 %second, %cta, 0;
                shl.b32 %addr, %tid, 2;
                @!%second st.shared.u32 [%addr], %tid;
                bar.sync 0;
                ld.shared.u32 %v, [%addr]; // fault
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var error = Assert.Throws<PtxKernelFaultException>(() => PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(2, 32), gpu.Memory.Allocate(4, "out")));
        var finding = error!.Findings.Single();
        Assert.That(finding.Rule, Is.EqualTo(PtxEmulator.Sanitizer.SanitizerRule.UninitialisedRead));
        Assert.That(finding.Block, Is.EqualTo((1, 0, 0)));
    }

    [Test]
    public void ModuleGlobalsStartWithTheirInitialisers()
    {
        string ptx = PtxTestKernels.Header + """
            .global .align 4 .b8 table[12] = {1, 0, 0, 0, 2, 0, 0, 0, 255, 255, 255, 255};
            .global .align 8 .u64 counter = 40;
            .visible .entry read(.param .u64 out)
            {
                .reg .b32 %r<3>;
                .reg .b64 %rd<3>;
                ld.param.u64 %rd0, [out];
                ld.global.u32 %r0, [table+4];
                ld.global.s32 %r1, [table+8];
                ld.global.u64 %rd1, [counter];
                add.s64 %rd1, %rd1, 2;
                st.global.u64 [counter], %rd1;
                ld.global.u64 %rd2, [counter];
                st.global.v2.u32 [%rd0], {%r0, %r1};
                st.global.u64 [%rd0+8], %rd2;
                ret;
            }
            """;
        using var gpu = new EmulatedGpu();
        var output = gpu.Memory.Allocate(16, "out");
        PtxTestKernels.Launch(gpu, ptx, new LaunchGeometry(1, 1), output);
        Assert.That(PtxTestKernels.Download<int>(gpu, output, 2), Is.EqualTo(new[] { 2, -1 }));
        Assert.That(PtxTestKernels.Download<ulong>(gpu, output, 2)[1], Is.EqualTo(42ul));
    }
}
