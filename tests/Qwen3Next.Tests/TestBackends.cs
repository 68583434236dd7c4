using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ilgpu;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;

namespace Qwen3Next.Tests;

/// <summary>One instance of each CPU-runnable backend for the whole run: ILGPU compiles a kernel the first
/// time it is loaded, so sharing the accelerator keeps the suite fast.</summary>
[SetUpFixture]
public sealed class TestBackends
{
    private static readonly Dictionary<string, IKernelBackend> Created = [];

    /// <summary>Backends every conformance test runs on (no GPU here: ILGPU on its CPU accelerator).</summary>
    public static readonly string[] CpuBackends = ["reference", "ilgpu-cpu"];

    /// <summary>Every backend whose host side runs here: the CPU backends and the ptx launchers in signature-check
    /// mode (they check and pack every launch but compute nothing), for contract and misuse tests.</summary>
    public static readonly string[] HostSideBackends = ["reference", "ilgpu-cpu", PtxSignatures];

    /// <summary>The ptx backend in signature-check mode, on the ilgpu-cpu backend's device (its kernels are compiled once).</summary>
    public const string PtxSignatures = "ptx-signatures";

    public static string DataRoot => Path.Combine(TestContext.CurrentContext.TestDirectory, "data", "golden");

    public static IKernelBackend Get(string name)
    {
        lock (Created)
        {
            if (!Created.TryGetValue(name, out var backend))
            {
                backend = name == PtxSignatures ? CreatePtxSignatures() : BackendRegistry.Create(name);
                Created[name] = backend;
            }

            return backend;
        }
    }

    private static PtxBackend CreatePtxSignatures()
    {
        if (PtxCatalog.Embedded.IsEmpty)
        {
            Assert.Ignore("No PTX embedded (nvcc was not available at build time).");
        }

        return PtxBackend.CreateSignatureCheck(((IlgpuBackend)Get("ilgpu-cpu")).Device);
    }

    [OneTimeTearDown]
    public void DisposeAll()
    {
        // The ptx backend borrows the ilgpu-cpu backend's device: it goes first.
        foreach (var backend in Created.Values.OrderBy(b => b is PtxBackend ? 0 : 1))
        {
            backend.Dispose();
        }

        Created.Clear();
    }
}
