using NUnit.Framework;
using Qwen3Next.Backends;
using Qwen3Next.Backends.Ptx;
using Qwen3Next.Cuda;

namespace Qwen3Next.Tests;

/// <summary>One instance of each CPU-runnable backend for the whole run: ILGPU compiles a kernel the first
/// time it is loaded, so sharing the accelerator keeps the suite fast.</summary>
[SetUpFixture]
public sealed class TestBackends
{
    private static readonly Dictionary<string, IKernelBackend> Created = [];

    /// <summary>Backends that compute on the CPU: the reference and ILGPU's CPU accelerator.</summary>
    public static readonly string[] CpuBackends = ["reference", "ilgpu-cpu"];

    /// <summary>The GPU code paths on the PTX emulator, sanitizer on: the CUDA C kernels through the ptx backend's
    /// launchers and driver calls, and the ILGPU kernels as the PTX ILGPU emits for CUDA.</summary>
    public static readonly string[] EmulatedBackends = ["ptx-emu", "ilgpu-emu"];

    /// <summary>Every backend that runs here: what the golden conformance suite covers.</summary>
    public static readonly string[] AllBackends = [.. CpuBackends, .. EmulatedBackends];

    /// <summary>Every backend whose host side runs here: the CPU backends and the ptx launchers in signature-check
    /// mode (they check and pack every launch but compute nothing), for contract and misuse tests.</summary>
    public static readonly string[] HostSideBackends = ["reference", "ilgpu-cpu", PtxSignatures];

    /// <summary>The CPU backends and the hand-written CUDA C on the PTX emulator (sanitizer on): whole-model misuse tests,
    /// where ilgpu-emu would repeat ilgpu-cpu's kernels at several seconds a case.</summary>
    public static readonly string[] ComputingBackends = ["reference", "ilgpu-cpu", "ptx-emu"];

    /// <summary>The ptx backend in signature-check mode (host memory; launches checked, not run).</summary>
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

        return PtxBackend.CreateSignatureCheck();
    }

    [OneTimeTearDown]
    public void DisposeAll()
    {
        foreach (var backend in Created.Values)
        {
            backend.Dispose();
        }

        Created.Clear();
    }
}
