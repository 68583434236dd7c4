using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;
using Qwen3Next.Streaming;
using static Qwen3Next.Backends.Ptx.LaunchChecks;

namespace Qwen3Next.Ops.Moe;

/// <summary>The decode MoE block in three kernels (<c>kernels/moe/decode_fused.cu</c>).</summary>
public sealed partial class PtxMoeOps
{
    public const string DecodeRoute = "moe_decode_route";
    public const string DecodeGateUp = "moe_decode_gate_up";
    public const string DecodeDownCombine = "moe_decode_down_combine";
    public const string CacheAcquire = "moe_cache_acquire";
    public const string ExpertCopy = "moe_expert_copy";

    /// <summary>Rows of the routing kernel's projection per token: the router, the next layer's router when it
    /// predicts, and the shared-expert gate.</summary>
    internal static int ProjectionRows(int experts, bool predicts) => experts + (predicts ? experts : 0) + 1;

    internal static LaunchConfig DecodeRouteConfig(int tokens, int experts, int topK, int hidden, bool predicts, bool normalizeTopK)
    {
        Positive(DecodeRoute, "T", tokens);
        AtMost(DecodeRoute, "T", tokens, GemvMaxTokens);
        Positive(DecodeRoute, "E", experts);
        Positive(DecodeRoute, "k", topK);
        AtMost(DecodeRoute, "k", topK, Math.Min(MaxTopK, experts));
        Positive(DecodeRoute, "H", hidden);
        Require(normalizeTopK, DecodeRoute, "the kernel always renormalises the top-k weights (norm_topk_prob); a model without it is not supported");
        var config = new LaunchConfig(CeilDiv(ProjectionRows(experts, predicts), 8), 256, 4 * experts);
        config.Validate(DecodeRoute);
        return config;
    }

    internal static LaunchConfig DecodeGateUpConfig(int tokens, int topK, int intermediate, int sharedIntermediate)
    {
        Positive(DecodeGateUp, "I", intermediate);
        Positive(DecodeGateUp, "Is", sharedIntermediate);
        return new LaunchConfig(new LaunchDims(CeilDiv(Math.Max(intermediate, sharedIntermediate), 8), (tokens * topK) + tokens), 256);
    }

    internal static LaunchConfig DecodeDownConfig(int tokens, int hidden) => new(new LaunchDims(CeilDiv(hidden, 8), tokens), 256);

    /// <summary>
    /// Routing (with the cache lookup, replacement and next-layer prediction when the experts stream), the routed and
    /// shared gate/up projections, then down projections, combine and y. Returns the projection <c>[T, R]</c> whose
    /// first E columns of each row are the router logits.
    /// </summary>
    private DeviceSpan<float> DecodeFused(MoeShape shape, int t, DeviceTensor x, MoeWeights weights, DeviceTensor y, bool accumulate, PtxExpertWeights? Resident,
        PtxStreamedExperts? Streamed)
    {
        var (e, k, h, i, si) = (shape.Experts, shape.TopK, shape.Hidden, shape.ExpertIntermediate, shape.SharedIntermediate);
        var streaming = Streamed?.Owner;
        var nextRouter = streaming?.NextRouter(Streamed!.Layer, weights.Router);
        bool predicts = nextRouter is not null;
        var routeConfig = DecodeRouteConfig(t, e, k, h, predicts, shape.NormalizeTopK);
        var gateUpConfig = DecodeGateUpConfig(t, k, i, si);
        var downConfig = DecodeDownConfig(t, h);
        int p = t * k, rows = ProjectionRows(e, predicts);

        var ws = backend.Workspace;
        var xView = PtxBackend.T(x).Span;
        var proj = ws.Get<float>("moe.proj", (long)t * rows);
        var selected = ws.Get<int>("moe.selected", p);
        var routeWeights = ws.Get<float>("moe.weights", p);
        var pairs = ws.Get<ulong>("moe.pair_w", 4L * p);
        var hbuf = ws.Get<float>("moe.hbuf", (long)p * i);
        var hshared = ws.Get<float>("moe.hshared", (long)t * si);
        var ticket = Ticket();

        args.Clear().Add(proj).Add(selected).Add(routeWeights).Add(pairs).Add(ticket).Add(xView).Add(PtxBackend.W(weights.Router).Bits);
        if (nextRouter is { } next)
        {
            args.Add(next);
        }
        else
        {
            args.AddNull();
        }

        args.Add(PtxBackend.W(weights.SharedExpertGate).Bits);
        int jobSet = 0;
        if (streaming is null)
        {
            args.Add(Resident!.GateUp).Add(Resident.Down).AddNull();
        }
        else
        {
            jobSet = Streamed!.Layer & 1;
            args.AddNull().AddNull().Add(streaming.Cache.Descriptor);
        }

        backend.Launch(DecodeRoute, routeConfig, args.Add(jobSet).Add(Streamed?.Layer ?? 0).Add(t).Add(e).Add(k).Add(h).Add(i));
        streaming?.AfterDecodeRouting(Streamed!.Layer, jobSet, predicts, t);

        backend.Launch(DecodeGateUp, gateUpConfig, args.Clear().Add(hbuf).Add(hshared).Add(xView).Add(pairs)
            .Add(PtxBackend.W(weights.SharedGate).Bits).Add(PtxBackend.W(weights.SharedUp).Bits).Add(t).Add(k).Add(h).Add(i).Add(si));
        backend.Launch(DecodeDownCombine, downConfig, args.Clear().Add(PtxBackend.T(y).Span).Add(hbuf).Add(hshared).Add(pairs).Add(routeWeights)
            .Add(proj, rows - 1).Add(rows).Add(PtxBackend.W(weights.SharedDown).Bits).Add(t).Add(k).Add(h).Add(i).Add(si).Add(accumulate ? 1 : 0));
        return proj.Slice(0, (long)t * rows);
    }

    private bool ticketCleared;

    /// <summary>The routing kernel's arrival counter: zeroed once, and put back to zero by the last CTA of every launch.</summary>
    private DeviceSpan<uint> Ticket()
    {
        if (!ticketCleared)
        {
            ticketCleared = true;
            return backend.Workspace.Zeros<uint>("moe.ticket", 1);
        }

        return backend.Workspace.Get<uint>("moe.ticket", 1);
    }
}
