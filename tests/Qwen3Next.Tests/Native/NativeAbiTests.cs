using System.Diagnostics;
using NUnit.Framework;

namespace Qwen3Next.Tests.Native;

/// <summary>
/// The C ABI (native/qwen3next.h) from another language, as its users call it: Python's ctypes loads
/// libqwen3next.so, which starts the .NET runtime in the Python process. Each test is a separate process (the runtime
/// cannot be hosted twice in this one).
/// </summary>
[Category("Native")]
public sealed class NativeAbiTests
{
    [Test]
    public void ThePythonExamplePrintsTheGoldenGreedyTokens()
    {
        var (code, stdout, stderr) = Python(Path.Combine("examples", "python", "generate.py"), "--lib", Library());
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("[301, 471, 365, 298, 382, 76, 304, 434]"));
        Assert.That(stdout, Does.StartWith("301 471 365"), "tokens are printed by the callback as they come");
    }

    [Test]
    public void EveryMisuseIsAStatusWithAMessage()
    {
        var (code, stdout, stderr) = Python(Path.Combine("tests", "native", "abi_contract.py"), Library(), Checkpoint.GoldenData.TinyModel);
        Assert.That(code, Is.Zero, stdout + stderr);
        Assert.That(stdout, Does.Match(@"\d+ passed, 0 failed"));
    }

    [Test]
    public void TheReadmesFiveLinePythonExampleRuns()
    {
        string readme = File.ReadAllText(Repository("README.md"));
        string section = readme[readme.IndexOf("## The C ABI", StringComparison.Ordinal)..];
        string snippet = System.Text.RegularExpressions.Regex.Match(section, "```python\n(.*?)```", System.Text.RegularExpressions.RegexOptions.Singleline).Groups[1].Value;
        Assert.That(snippet.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(5));
        string script = Path.Combine(Path.GetTempPath(), $"qwen3next-readme-{Guid.NewGuid():N}.py");
        File.WriteAllText(script, snippet.Replace("src/Qwen3Next.Native/bin/Release/net10.0/libqwen3next.so", Library()));
        try
        {
            var (code, stdout, stderr) = Python(script);
            Assert.That(code, Is.Zero, stderr);
            Assert.That(stdout.Trim(), Does.Match(@"^\[\d+(, \d+){7}\]$"));
        }
        finally
        {
            File.Delete(script);
        }
    }

    [Test]
    public void TheHeaderDeclaresEveryExportedFunction()
    {
        string header = File.ReadAllText(Repository("native/qwen3next.h"));
        string shim = File.ReadAllText(Repository("native/qwen3next.c"));
        var exported = System.Text.RegularExpressions.Regex.Matches(shim, @"^(?:qn_status|const char\*) (qn_\w+)\(", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value).ToList();
        Assert.That(exported, Has.Count.EqualTo(13));
        Assert.That(exported.Where(name => !header.Contains($" {name}(", StringComparison.Ordinal)), Is.Empty);
    }

    /// <summary>libqwen3next.so of this build configuration, beside Qwen3Next.Native.dll.</summary>
    private static string Library()
    {
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        string path = Repository($"src/Qwen3Next.Native/bin/{configuration}/net10.0/libqwen3next.so");
        if (!File.Exists(path))
        {
            Assert.Fail($"{path} was not built: src/Qwen3Next.Native's build runs native/build.sh, which needs gcc.");
        }

        return path;
    }

    private static string Repository(string relative) =>
        Path.Combine(Path.GetDirectoryName(RepositoryFile.Find("Kernels.sln") ?? throw new InvalidOperationException("repository root not found"))!, relative);

    private static (int Code, string Out, string Err) Python(string script, params string[] args)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repository(".") };
        start.ArgumentList.Add(Path.IsPathRooted(script) ? script : Repository(script));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Ignore("python3 is not on PATH.");
            throw;
        }

        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                process.Kill();
                Assert.Fail($"{script} did not finish in 2 minutes.");
            }

            return (process.ExitCode, stdout, stderr.Result);
        }
    }
}
