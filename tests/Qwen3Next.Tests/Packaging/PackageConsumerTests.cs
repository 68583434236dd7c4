using System.Diagnostics;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.IO.Compression;
using System.Text.RegularExpressions;
using NUnit.Framework;
using Qwen3Next.Conformance;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Packaging;

/// <summary>
/// The NuGet package as a user meets it: <c>dotnet pack</c> the runtime and the emulator into a local folder feed, then
/// a fresh console app outside the repository (no project reference, no central versions) takes the package by
/// PackageReference, compiles the README's library snippet as its Program.cs, and runs it on the tiny model. Slow
/// (a restore and a build): its own category, run by CI with the rest. Packages other than ours come from the
/// machine's NuGet cache (a fallback folder), so a warm machine restores without the network.
/// </summary>
[Category("Package")]
public sealed class PackageConsumerTests
{
    private const string Version = "0.1.0";

    [Test]
    public void AFreshConsoleAppRunsTheReadmeSnippetFromTheLocalFeed()
    {
        string root = Repository(".");
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        string work = Path.Combine(root, "artifacts", "package-test");
        string feed = Path.Combine(work, "feed"), packages = Path.Combine(work, "packages");
        if (Directory.Exists(feed))
        {
            Directory.Delete(feed, recursive: true);
        }

        // Our packages keep one version number: a copy restored by an earlier run would hide a changed package.
        foreach (string stale in new[] { "qwen3next.runtime", "qwen3next.ptxemulator" }.Select(id => Path.Combine(packages, id)).Where(Directory.Exists))
        {
            Directory.Delete(stale, recursive: true);
        }

        foreach (string project in new[] { "src/Qwen3Next.PtxEmulator", "src/Qwen3Next.Runtime" })
        {
            Dotnet(root, "pack", Path.Combine(root, project), "-c", configuration, "--no-build", "-o", feed);
        }

        string package = Path.Combine(feed, $"Qwen3Next.Runtime.{Version}.nupkg");
        Assert.That(File.Exists(Path.Combine(feed, $"Qwen3Next.Runtime.{Version}.snupkg")), "symbols package");
        Assert.That(File.Exists(Path.Combine(feed, $"Qwen3Next.PtxEmulator.{Version}.nupkg")), "the emulator the runtime depends on");
        CheckContents(package);

        string app = Path.Combine(Path.GetTempPath(), $"qwen3next-consumer-{Guid.NewGuid():N}");
        Directory.CreateDirectory(app);
        try
        {
            File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                    <RestorePackagesPath>{packages}</RestorePackagesPath>
                    <RestoreFallbackFolders>{NuGetCache()}</RestoreFallbackFolders>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="Qwen3Next.Runtime" Version="{Version}" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="local" value="{feed}" />
                    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
                  </packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), ReadmeSnippet());
            using var golden = GoldenFile.Open(Path.Combine(GoldenData.TinyModel, ConformanceRunner.ModelGoldenFile));
            string prompt = string.Join(',', golden.I64("input_ids"));
            string greedy = string.Join(',', golden.I64("greedy_tokens"));
            string output = Dotnet(app, "run", "-c", "Release", "--", GoldenData.TinyModel, "reference", prompt);
            Assert.That(output, Does.Contain($"[{greedy}"), "the snippet prints the golden greedy tokens first");
        }
        finally
        {
            Directory.Delete(app, recursive: true);
        }
    }

    /// <summary>README and license in the package, and the kernels' PTX embedded in the packed assembly.</summary>
    private static void CheckContents(string package)
    {
        using var zip = ZipFile.OpenRead(package);
        Assert.That(zip.GetEntry("README.md"), Is.Not.Null);
        string nuspec = new StreamReader(zip.GetEntry("Qwen3Next.Runtime.nuspec")!.Open()).ReadToEnd();
        Assert.That(nuspec, Does.Contain("<license type=\"expression\">MIT</license>").And.Contain("id=\"Qwen3Next.PtxEmulator\""));
        using var dll = new MemoryStream();
        zip.GetEntry("lib/net10.0/Qwen3Next.Runtime.dll")!.Open().CopyTo(dll);
        dll.Position = 0;
        using var pe = new PEReader(dll);
        var metadata = pe.GetMetadataReader();
        var resources = metadata.ManifestResources.Select(h => metadata.GetString(metadata.GetManifestResource(h).Name)).ToList();
        if (Directory.Exists(Repository("kernels/build/ptx")))
        {
            Assert.That(resources.Count(r => r.StartsWith("ptx/", StringComparison.Ordinal)), Is.GreaterThanOrEqualTo(10), "the CUDA C kernels' PTX");
        }
    }

    /// <summary>The README's library snippet, as printed.</summary>
    private static string ReadmeSnippet()
    {
        string readme = File.ReadAllText(Repository("README.md"));
        var section = readme[readme.IndexOf("## The library API", StringComparison.Ordinal)..];
        return Regex.Match(section, "```csharp\n(.*?)```", RegexOptions.Singleline).Groups[1].Value;
    }

    private static string NuGetCache() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private static string Repository(string relative) =>
        Path.Combine(Path.GetDirectoryName(RepositoryFile.Find("Kernels.sln") ?? throw new InvalidOperationException("repository root not found"))!, relative);

    private static string Dotnet(string folder, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // The test host's own MSBuild settings must not leak into the child builds.
        foreach (string name in new[] { "MSBuildExtensionsPath", "MSBUILD_EXE_PATH", "MSBuildSDKsPath", "DOTNET_HOST_PATH" })
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(8)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', args)} did not finish in 8 minutes.");
        }

        Assert.That(process.ExitCode, Is.Zero, $"dotnet {string.Join(' ', args)}:\n{stdout}\n{stderr.Result}");
        return stdout;
    }
}
