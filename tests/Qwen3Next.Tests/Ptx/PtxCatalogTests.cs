using System.Text.RegularExpressions;
using NUnit.Framework;
using Qwen3Next.Cuda;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Ops.Basic;
using Qwen3Next.Ops.GatedDelta;
using Qwen3Next.Ops.Moe;

namespace Qwen3Next.Tests.Ptx;

/// <summary>The embedded PTX, the launch ABI in <c>kernels/README.md</c> and the launchers name the same kernels.</summary>
public sealed class PtxCatalogTests
{
    private static IEnumerable<string> LauncherKernels =>
        PtxBasicOps.KernelNames.Concat(PtxGatedDeltaOps.KernelNames).Concat(PtxGatedAttentionOps.KernelNames).Concat(PtxMoeOps.KernelNames);

    /// <summary>Kernel names of the ABI tables: rows that start with <c>| `name` |</c>.</summary>
    private static List<string> ReadmeKernels()
    {
        var path = Path.Combine(TestContext.CurrentContext.TestDirectory, "data", "kernels", "README.md");
        return File.ReadLines(path).Select(l => Regex.Match(l, @"^\| `([a-z0-9_]+)` \|")).Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
    }

    private static PtxCatalog EmbeddedOrIgnore()
    {
        var catalog = PtxCatalog.Embedded;
        if (catalog.IsEmpty)
        {
            Assert.Ignore("No PTX is embedded: nvcc was not available when the runtime was built (run kernels/build.sh, then rebuild).");
        }

        return catalog;
    }

    [Test]
    public void ParsesEntriesButNotDeviceFunctions()
    {
        const string ptx = """
            .version 7.8
            .target sm_90
            .func  (.param .b32 func_retval0) helper(.param .b32 x)
            { ret; }
            .visible .entry rmsnorm_plain(
                .param .u64 rmsnorm_plain_param_0
            )
            { ret; }
            .entry   argmax_rows (
            )
            { ret; }
            """;

        Assert.That(PtxCatalog.ParseEntries(ptx), Is.EqualTo(new[] { "rmsnorm_plain", "argmax_rows" }));
    }

    [Test]
    public void LaunchersCoverExactlyTheReadmeKernels()
    {
        var readme = ReadmeKernels();
        Assert.That(readme, Has.Count.EqualTo(32), "kernel rows in kernels/README.md");
        Assert.That(LauncherKernels.Order(), Is.EqualTo(readme.Order()));
    }

    [Test]
    public void EveryReadmeKernelIsEmbedded()
    {
        var catalog = EmbeddedOrIgnore();
        Assert.That(catalog.Modules.Select(m => m.Name), Has.All.Matches<string>(n => Regex.IsMatch(n, @"^(basic|gated_delta|attention|moe)/[a-z0-9_]+\.ptx$")));
        Assert.Multiple(() =>
        {
            foreach (var kernel in ReadmeKernels())
            {
                Assert.That(catalog.Contains(kernel), Is.True, $"{kernel} is not in the embedded PTX");
            }
        });
    }

    [Test]
    public void EveryLauncherKernelIsEmbeddedAndFindsItsModule()
    {
        var catalog = EmbeddedOrIgnore();
        Assert.Multiple(() =>
        {
            foreach (var kernel in LauncherKernels)
            {
                Assert.That(catalog.Contains(kernel), Is.True, $"{kernel} is not in the embedded PTX");
            }
        });
        Assert.That(catalog.ModuleOf("gdn_chunk_prepare").Name, Is.EqualTo("gated_delta/chunk_prefill.ptx"));
        Assert.That(catalog.ReadText(catalog.ModuleOf("argmax_rows")), Does.Contain(".entry argmax_rows").And.Contain(".target sm_90"));
        Assert.That(() => catalog.ModuleOf("no_such_kernel"), Throws.TypeOf<KeyNotFoundException>().With.Message.Contains("no_such_kernel"));
    }

    [Test]
    public void AnAssemblyWithoutPtxReportsTheBackendUnavailable()
    {
        var empty = PtxCatalog.FromAssembly(typeof(PtxCatalogTests).Assembly);

        Assert.That(empty.IsEmpty, Is.True);
        Assert.That(() => empty.EnsureAvailable(), Throws.TypeOf<NotSupportedException>().With.Message.EqualTo(
            "the ptx backend is unavailable: this build has no embedded PTX (nvcc was not found at build time)"));
        Assert.That(() => empty.ModuleOf("argmax_rows"), Throws.TypeOf<NotSupportedException>());
    }
}
