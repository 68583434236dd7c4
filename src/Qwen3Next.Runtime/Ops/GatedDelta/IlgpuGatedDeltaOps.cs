using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Ops.GatedDelta;

/// <summary>INTERIM host round trip; replaced by the ILGPU kernel pipeline.</summary>
public sealed class IlgpuGatedDeltaOps(IlgpuBackend backend) : IGatedDeltaOps
{
    public void Rule(GatedDeltaShape shape, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor g, DeviceTensor beta,
        DeviceTensor state, DeviceTensor o, bool l2Normalize, float scale, GatedDeltaMode mode)
    {
        var s = HostRoundTrip.Get(backend, state);
        var output = new float[o.Length];
        GatedDeltaRuleReference.Run(shape, HostRoundTrip.Get(backend, q), HostRoundTrip.Get(backend, k), HostRoundTrip.Get(backend, v),
            HostRoundTrip.Get(backend, g), HostRoundTrip.Get(backend, beta), s, output, l2Normalize, scale, mode);
        HostRoundTrip.Put(backend, s, state);
        HostRoundTrip.Put(backend, output, o);
    }

    public void Mixer(GatedDeltaNetShape shape, int tokens, DeviceTensor qkvz, DeviceTensor ba, GatedDeltaNetWeights weights,
        LinearAttentionState state, DeviceTensor y)
    {
        var conv = HostRoundTrip.Get(backend, state.Conv);
        var rec = HostRoundTrip.Get(backend, state.Recurrent);
        var output = new float[(long)tokens * shape.ValueWidth];
        var convWeight = new float[weights.Conv.Length];
        Bf16.Widen(HostRoundTrip.Bits(backend, weights.Conv), convWeight);
        GatedDeltaNetReference.Mixer(shape, tokens, HostRoundTrip.Get(backend, qkvz), HostRoundTrip.Get(backend, ba), convWeight,
            HostRoundTrip.Get(backend, weights.ALog), HostRoundTrip.Get(backend, weights.DtBias), HostRoundTrip.Get(backend, weights.Norm), conv, rec, output);
        HostRoundTrip.Put(backend, conv, state.Conv);
        HostRoundTrip.Put(backend, rec, state.Recurrent);
        HostRoundTrip.Put(backend, output, y);
    }
}
