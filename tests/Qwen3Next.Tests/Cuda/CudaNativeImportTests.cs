using System.Reflection;
using System.Runtime.InteropServices;
using NUnit.Framework;
using Qwen3Next.Cuda;

namespace Qwen3Next.Tests.Cuda;

/// <summary>The libcuda entry points the runtime imports itself exist under those names in the installed driver
/// (a misspelt or versioned name would otherwise surface only on a GPU, as EntryPointNotFoundException).</summary>
public sealed class CudaNativeImportTests
{
    private static IEnumerable<(string Method, string EntryPoint)> Imports() => typeof(CudaDriver)
        .GetMethods(BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Static)
        .Select(m => (m.Name, Import: m.GetCustomAttribute<LibraryImportAttribute>()))
        .Where(m => m.Import is not null)
        .Select(m => (m.Name, m.Import!.EntryPoint ?? m.Name));

    [Test]
    public void EveryImportIsDeclaredInTheOneNativeClass()
        => Assert.That(Imports().Select(i => i.EntryPoint), Is.EquivalentTo(new[]
        {
            "cuFuncSetAttribute", "cuStreamWaitEvent", "cuMemHostAlloc", "cuMemsetD32Async", "cuStreamBeginCapture_v2", "cuStreamEndCapture",
            "cuGraphInstantiateWithFlags", "cuGraphLaunch", "cuGraphExecDestroy", "cuGraphDestroy",
        }));

    [Test]
    public void EveryImportIsExportedByTheInstalledDriver()
    {
        if (!NativeLibrary.TryLoad("libcuda.so.1", out var library))
        {
            Assert.Ignore("libcuda.so.1 is not installed here.");
        }

        try
        {
            Assert.Multiple(() =>
            {
                foreach (var (method, entryPoint) in Imports())
                {
                    Assert.That(NativeLibrary.TryGetExport(library, entryPoint, out _), Is.True, $"{method} imports '{entryPoint}'");
                }
            });
        }
        finally
        {
            NativeLibrary.Free(library);
        }
    }
}
