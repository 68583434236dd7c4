using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Backends.Reference;

namespace Qwen3Next.Ops.Moe;

/// <summary>INTERIM host round trip; replaced by the ILGPU routing, permutation and grouped expert kernels.</summary>
public sealed class IlgpuMoeOps(IlgpuBackend backend) : IMoeOps
{
    private static readonly ReferenceBackend Host = new();

    public static ExpertWeights LoadExperts(IlgpuBackend backend, MoeShape shape, IReadOnlyList<ExpertTensors> experts)
        => new InterimExperts(Host.LoadExperts(shape, experts));

    public void Block(MoeShape shape, int tokens, DeviceTensor x, MoeWeights weights, DeviceTensor y, MoeRouting? routing = null)
    {
        var w = new MoeWeights(HostWeightOf(weights.Router), ((InterimExperts)weights.Experts).Host, HostWeightOf(weights.SharedGate),
            HostWeightOf(weights.SharedUp), HostWeightOf(weights.SharedDown), HostWeightOf(weights.SharedExpertGate));
        using var hx = Host.Upload(HostRoundTrip.Get(backend, x));
        using var hy = Host.Allocate((long)tokens * shape.Hidden);
        Host.Moe.Block(shape, tokens, hx, w, hy, routing);
        HostRoundTrip.Put(backend, ((HostTensor)hy).Data, y);
    }

    private HostWeight HostWeightOf(DeviceWeight w) => HostWeight.Matrix(w.Name, w.Rows, w.Cols, HostRoundTrip.Bits(backend, w));

    private sealed class InterimExperts(ExpertWeights host) : ExpertWeights
    {
        public ExpertWeights Host { get; } = host;

        public override void Dispose() => Host.Dispose();
    }
}
