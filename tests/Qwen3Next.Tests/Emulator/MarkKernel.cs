using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;
using Qwen3Next.PtxEmulator.Memory;

namespace Qwen3Next.Tests.Emulator;

/// <summary>A tiny real kernel for the profiling tests: every CTA does the same work.</summary>
internal static class MarkKernel
{
    /// <summary>nvcc 11.8 -arch=sm_90 output of: thread 0 of each CTA sets flags[linear block index] = 1.</summary>
    public const string Ptx = """
        .version 7.8
        .target sm_90
        .address_size 64

        .visible .entry mark(
            .param .u64 mark_param_0
        )
        {
            .reg .pred 	%p<2>;
            .reg .b32 	%r<10>;
            .reg .b64 	%rd<5>;

            ld.param.u64 	%rd1, [mark_param_0];
            mov.u32 	%r1, %tid.x;
            setp.ne.s32 	%p1, %r1, 0;
            @%p1 bra 	$L__BB0_2;

            cvta.to.global.u64 	%rd2, %rd1;
            mov.u32 	%r2, %nctaid.y;
            mov.u32 	%r3, %ctaid.z;
            mov.u32 	%r4, %ctaid.y;
            mad.lo.s32 	%r5, %r2, %r3, %r4;
            mov.u32 	%r6, %nctaid.x;
            mov.u32 	%r7, %ctaid.x;
            mad.lo.s32 	%r8, %r5, %r6, %r7;
            mul.wide.u32 	%rd3, %r8, 4;
            add.s64 	%rd4, %rd2, %rd3;
            mov.u32 	%r9, 1;
            st.global.u32 	[%rd4], %r9;

        $L__BB0_2:
            ret;

        }
        """;

    /// <summary>Loads the kernel, allocates zeroed flags (one int per CTA) and launches it.</summary>
    public static (LaunchResult Result, MemoryRegion Flags) Launch(EmulatedGpu gpu, LaunchGeometry geometry)
    {
        var kernel = gpu.LoadModule(Ptx, "mark.ptx").GetKernel("mark");
        int n = (int)geometry.Grid.Count;
        var flags = gpu.Memory.Allocate(n * 4, "flags");
        gpu.Memory.Write(flags.Start, new byte[n * 4], "flags");
        return (gpu.Launch(kernel, geometry, new KernelParameterPacker(kernel).Set(0, (long)flags.Start).Bytes), flags);
    }
}
