using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Benchmarks;
using Qwen3Next.Conformance;
using Qwen3Next.Cuda;
using Qwen3Next.Graph;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.GatedDelta;
using Qwen3Next.Ops.Moe;

namespace Qwen3Next.Tests.Ptx;

/// <summary>No launcher kernel is dead: something the tests run reaches each one (signature-check driver).</summary>
public sealed class LauncherCoverageTests
{
    [OneTimeSetUp]
    public void RequirePtx()
    {
        if (PtxCatalog.Embedded.IsEmpty)
        {
            Assert.Ignore("No PTX embedded (nvcc was not available at build time).");
        }
    }

    /// <summary>The golden cases, the workloads, the two ops and the MoE paths off the default, in both precisions, together reach every
    /// launcher kernel (the tensor-core prefill kernels of the fast precision, the sm_90a ones and the bf16 casts feeding them when this build has
    /// sm_90a kernels).</summary>
    [Test]
    public void TheCasesAboveReachEveryLauncherKernel()
    {
        var launched = new HashSet<string>();
        bool sm90a = false;
        foreach (var mode in new[] { Precision.Exact, Precision.Fast })
        {
            using var fresh = PtxBackend.CreateSignatureCheck(mode);
            sm90a = fresh.HasSm90aKernels;
            foreach (var path in PtxSignatureCheckTests.GoldenCases())
            {
                ConformanceRunner.Run(path, fresh);
            }

            foreach (var name in OpWorkloads.Names)
            {
                using var w = OpWorkloads.Create(name, fresh, BenchmarkScale.Small);
                w.Run();
            }

            PtxSignatureCheckTests.RunOpsTheModelDoesNotUse(fresh);
            PtxSignatureCheckTests.RunMoePathsOffTheDefault(fresh);
            RunOpsNoGoldenCaseReaches(fresh);
            launched.UnionWith(((SignatureCheckDriver)fresh.Driver).CheckedLaunches.Keys);
        }

        var launchers = PtxBasicOps.KernelNames.Concat(PtxGatedDeltaOps.KernelNames).Concat(PtxGatedAttentionOps.KernelNames).Concat(PtxMoeOps.KernelNames)
            .Concat(PtxGatedDeltaOps.FastKernelNames).Concat(PtxGatedAttentionOps.FastKernelNames)
            .Concat(sm90a ? PtxBasicOps.Sm90aKernelNames.Concat(PtxMoeOps.Sm90aKernelNames) : [])
            .Where(k => sm90a || k is not (PtxBasicOps.CastBf16 or PtxBasicOps.SiluMulBf16));
        Assert.That(launchers.Where(k => !launched.Contains(k)), Is.Empty, "kernels no golden case or workload launched");
    }

    /// <summary>Generation samples on the device (no golden case generates); the residual add serves a backend-neutral
    /// <see cref="IBasicOps.Add"/> now that the ptx layers fold it into their output projections; the unfused gated-delta
    /// decode stays selectable.</summary>
    private static void RunOpsNoGoldenCaseReaches(PtxBackend backend)
    {
        using var sampler = backend.CreateSampler(new SamplingOptions(1f, 0.9f, 8), rows: 1)!;
        using var logits = backend.Upload(new float[64]);
        sampler.Sample(logits, 1, 64, new int[1]);
        using var sum = backend.Allocate(64);
        backend.Basic.Add(sum, logits, 64);

        // The four-kernel gated-delta decode that gdn_decode_fused replaced.
        var ops = (PtxGatedDeltaOps)backend.GatedDelta;
        ops.UnfusedDecode = true;
        using (var w = OpWorkloads.Create("gdn-decode", backend, BenchmarkScale.Small))
        {
            w.Run();
        }

        ops.UnfusedDecode = false;

        // A caller's own fp32 cache in fast precision (the model's caches are bf16 there): the tensor-core prefill reads
        // attn_pages_bf16's bf16 copy of it.
        var shape = new GatedAttentionShape(Hidden: 8, QueryHeads: 2, KeyValueHeads: 1, HeadDim: 64, RotaryDim: 16, RopeTheta: 1e7f, Eps: 1e-6f);
        const int Tokens = 4;
        using var cache = new KvCache(backend.Allocate(Tokens * 64), backend.Allocate(Tokens * 64), Tokens);
        using var norm = backend.LoadWeight(Qwen3Next.Checkpoint.TensorView.FromFloat32("norm", [64], new float[64]));
        using var qg = backend.Allocate(Tokens * shape.QueryGateWidth);
        using var kv = backend.Allocate(Tokens * shape.KeyValueWidth);
        using var y = backend.Allocate(Tokens * shape.OutputWidth);
        backend.Attention.Mixer(shape, Tokens, qg, kv, kv, norm, norm, cache, y);
    }
}
