using ILGPU.Runtime;

namespace Qwen3Next.Backends.Ilgpu;

/// <summary>INTERIM: moves tensors to the host and back so a family without kernels yet can run its reference.</summary>
internal static class HostRoundTrip
{
    public static float[] Get(IlgpuBackend b, DeviceTensor t)
    {
        var r = new float[t.Length];
        b.Download(t, r);
        return r;
    }

    public static float[] Get(IlgpuBackend b, DeviceWeight w)
    {
        var r = new float[w.Length];
        IlgpuBackend.W(w).Values.CopyToCPU(b.Stream, r);
        b.Stream.Synchronize();
        return r;
    }

    public static ushort[] Bits(IlgpuBackend b, DeviceWeight w)
    {
        var r = new ushort[w.Length];
        IlgpuBackend.W(w).Bits.CopyToCPU(b.Stream, r);
        b.Stream.Synchronize();
        return r;
    }

    public static void Put(IlgpuBackend b, float[] data, DeviceTensor t) => IlgpuBackend.T(t).View.SubView(0, data.Length).CopyFromCPU(b.Stream, data);
}
