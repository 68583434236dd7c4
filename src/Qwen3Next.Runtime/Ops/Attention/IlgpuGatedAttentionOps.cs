using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;

namespace Qwen3Next.Ops.Attention;

/// <summary>INTERIM host round trip; replaced by the fused ILGPU attention kernels.</summary>
public sealed class IlgpuGatedAttentionOps(IlgpuBackend backend) : IGatedAttentionOps
{
    public void Mixer(GatedAttentionShape shape, int tokens, DeviceTensor qg, DeviceTensor k, DeviceTensor v,
        DeviceWeight qNorm, DeviceWeight kNorm, KvCache cache, DeviceTensor y)
    {
        KvCapacity.Check(cache, tokens);
        var keys = HostRoundTrip.Get(backend, cache.Keys);
        var values = HostRoundTrip.Get(backend, cache.Values);
        var output = new float[(long)tokens * shape.OutputWidth];
        GatedAttentionReference.Mixer(shape, tokens, HostRoundTrip.Get(backend, qg), HostRoundTrip.Get(backend, k), HostRoundTrip.Get(backend, v),
            HostRoundTrip.Get(backend, qNorm), HostRoundTrip.Get(backend, kNorm), keys, values, cache.Capacity, cache.Length, output);
        HostRoundTrip.Put(backend, keys, cache.Keys);
        HostRoundTrip.Put(backend, values, cache.Values);
        HostRoundTrip.Put(backend, output, y);
        cache.Length += tokens;
    }
}
