using System.Runtime.CompilerServices;
using System.Numerics;
using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Sanitizer;

namespace Qwen3Next.PtxEmulator.Execution;

/// <summary>
/// ldmatrix (PTX ISA §9.7.13.4.15): the shared-memory fragment loads of the mma.sync tensor-core kernels.
/// </summary>
internal sealed unsafe partial class Interpreter
{
    /// <summary>
    /// ldmatrix.sync.aligned.m8n8.xN{.trans}.shared.b16: lanes 8i … 8i+7 give the 16-byte row addresses of matrix i
    /// (i &lt; N). Without .trans lane l receives in register i row l/4, elements 2(l%4) and 2(l%4)+1 of matrix i;
    /// with .trans it receives column l/4, elements 2(l%4) and 2(l%4)+1 (the transposed matrix). The lower-numbered
    /// element goes in the low half.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void LoadMatrices(Warp w, in Instr ins, int pc)
    {
        int count = ins.Vec;
        ushort* m = stackalloc ushort[4 * 64];
        uint* offsets = stackalloc uint[32];
        int rows = 0;
        for (int lane = 0; lane < count * 8; lane++)
        {
            ulong addr = w.R[ins.A + lane] + (ulong)ins.Imm;
            if (ins.Address32)
            {
                addr = (uint)addr;
            }

            byte* p = Resolve(w, MemorySpace.Shared, addr, 16, lane, pc, write: false, nonCoherent: false, atomic: false, out _);
            for (int e = 0; e < 8; e++)
            {
                m[(lane * 8) + e] = p == null ? (ushort)0 : ((ushort*)p)[e];
            }

            offsets[rows++] = (uint)addr;
        }

        for (int i = 0; i < count; i++)
        {
            ushort* matrix = m + (i * 64);
            ulong* d = w.R + lists[ins.List + i];
            for (int lane = 0; lane < 32; lane++)
            {
                int g = lane >> 2, t = lane & 3;
                d[lane] = ins.Transpose
                    ? matrix[(2 * t * 8) + g] | ((uint)matrix[(((2 * t) + 1) * 8) + g] << 16)
                    : matrix[(g * 8) + (2 * t)] | ((uint)matrix[(g * 8) + (2 * t) + 1] << 16);
            }
        }

        if (counters is not null)
        {
            counters.SharedLoadRequests++;
            counters.SharedWavefronts += SharedWavefronts(offsets, rows, 16);
        }
    }
}
