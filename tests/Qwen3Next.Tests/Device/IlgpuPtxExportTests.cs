using System.Diagnostics;
using NUnit.Framework;
using Qwen3Next.Device;

namespace Qwen3Next.Tests.Device;

/// <summary>Every ILGPU kernel compiles to PTX for sm_90 and, where ptxas exists (CI installs Debian's
/// nvidia-cuda-toolkit), assembles with <c>ptxas -arch=sm_90</c>.</summary>
public sealed class IlgpuPtxExportTests
{
    private static IReadOnlyList<IlgpuPtxKernel>? kernels;

    private static IReadOnlyList<IlgpuPtxKernel> Kernels => kernels ??= IlgpuPtxExport.CompileAll();

    [Test]
    public void EveryKernelFamilyIsExported()
    {
        var classes = Kernels.Select(k => k.Method.DeclaringType!.Name).Distinct().ToList();
        Assert.That(classes, Does.Contain("BasicKernels"));
        Assert.That(Kernels.Select(k => k.Name), Does.Contain("BasicKernels.Gemv").And.Contain("BasicKernels.RmsNorm"));
        Assert.That(Kernels, Has.All.Matches<IlgpuPtxKernel>(k => k.Ptx.Contains(".target sm_90") && k.Ptx.Contains(".version 7.8")));
    }

    [Test]
    public void PtxasAcceptsEveryKernel()
    {
        string? ptxas = FindOnPath("ptxas");
        if (ptxas is null)
        {
            Assert.Ignore("ptxas not found (install Debian's nvidia-cuda-toolkit; .ci/run does).");
        }

        string folder = Path.Combine(Path.GetTempPath(), "qwen3next-ptx-" + Environment.ProcessId);
        Directory.CreateDirectory(folder);
        try
        {
            var failures = new List<string>();
            foreach (var kernel in Kernels)
            {
                string path = Path.Combine(folder, kernel.Name + ".ptx");
                File.WriteAllText(path, kernel.Ptx);
                var info = new ProcessStartInfo(ptxas!, ["-arch=sm_90", "-v", path, "-o", path + ".cubin"]) { RedirectStandardError = true, RedirectStandardOutput = true };
                using var process = Process.Start(info)!;
                string err = process.StandardError.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode != 0)
                {
                    failures.Add($"{kernel.Name}: {err}");
                }
            }

            Assert.That(failures, Is.Empty, string.Join(Environment.NewLine, failures));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
}
