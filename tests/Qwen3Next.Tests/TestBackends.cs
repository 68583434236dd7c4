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

    /// <summary>The kernel implementations the op-level tests at awkward sizes check against the reference.</summary>
    public static readonly string[] KernelBackends = ["ilgpu-cpu", .. EmulatedBackends];

    /// <summary>The ptx backend on the emulator in fast precision (bf16 tensor-core kernels, fla's criterion).</summary>
    public const string PtxEmuFast = "ptx-emu-fast";

    /// <summary>Every backend that runs here, and the ptx backend's fast mode: what the golden conformance suite covers.</summary>
    public static readonly string[] AllBackends = [.. CpuBackends, .. EmulatedBackends, PtxEmuFast];

    /// <summary>Backends the many-step session tests run on: the CPU ones and the CUDA C path on the emulator. The
    /// ILGPU kernels' continuations are the C# code ilgpu-cpu already runs; their PTX is covered by the golden suite,
    /// and repeating 60 emulated decode steps for them would double the suite's time.</summary>
    public static readonly string[] SessionBackends = [.. CpuBackends, "ptx-emu"];

    /// <summary>Every backend whose host side runs here: the CPU backends and the ptx launchers in signature-check
    /// mode (they check and pack every launch but compute nothing), for contract and misuse tests.</summary>
    public static readonly string[] HostSideBackends = ["reference", "ilgpu-cpu", PtxSignatures];

    /// <summary>The ptx backend in signature-check mode (host memory; launches checked, not run).</summary>
    public const string PtxSignatures = "ptx-signatures";

    public static string DataRoot => Path.Combine(TestContext.CurrentContext.TestDirectory, "data", "golden");

    public static IKernelBackend Get(string name)
    {
        lock (Created)
        {
            if (!Created.TryGetValue(name, out var backend))
            {
                backend = name switch
                {
                    PtxSignatures => CreatePtxSignatures(),
                    PtxEmuFast => BackendRegistry.Create("ptx-emu", Precision.Fast),
                    _ => BackendRegistry.Create(name),
                };
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
