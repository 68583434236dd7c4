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
        PtxBasicOps.KernelNames.Concat(PtxGatedDeltaOps.KernelNames).Concat(PtxGatedAttentionOps.KernelNames).Concat(PtxMoeOps.KernelNames)
            .Concat(PtxGatedDeltaOps.FastKernelNames).Concat(PtxGatedAttentionOps.FastKernelNames);

    /// <summary>The fast precision's sm_90a kernels (embedded only when CUDA 12.4 was found at build time).</summary>
    private static IEnumerable<string> Sm90aKernels => PtxBasicOps.Sm90aKernelNames.Concat(PtxMoeOps.Sm90aKernelNames);

    /// <summary>Kernel names of the ABI tables: rows that start with <c>| `name` |</c> (sm_90) or <c>| `name` (sm_90a) |</c>.</summary>
    private static List<string> ReadmeKernels(bool sm90a = false)
    {
        var path = Path.Combine(TestContext.CurrentContext.TestDirectory, "data", "kernels", "README.md");
        string pattern = sm90a ? @"^\| `([a-z0-9_]+)` \(sm_90a\) \|" : @"^\| `([a-z0-9_]+)` \|";
        return File.ReadLines(path).Select(l => Regex.Match(l, pattern)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
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
        Assert.That(readme, Has.Count.EqualTo(43), "sm_90 kernel rows in kernels/README.md");
        Assert.That(LauncherKernels.Order(), Is.EqualTo(readme.Order()));
        Assert.That(Sm90aKernels.Order(), Is.EqualTo(ReadmeKernels(sm90a: true).Order()), "sm_90a kernel rows");
    }

    [Test]
    public void TheSm90aKernelsAreEmbeddedTogetherOrNotAtAll()
    {
        var catalog = EmbeddedOrIgnore();
        var present = Sm90aKernels.Where(catalog.Contains).ToList();
        if (present.Count == 0)
        {
            Assert.Ignore("No sm_90a kernels are embedded: CUDA 12.4 was not found at build time (tools/cuda12-toolchain.sh).");
        }

        Assert.That(present, Is.EquivalentTo(Sm90aKernels), "a build has all of the fast precision's sm_90a kernels or none");
        Assert.That(catalog.ReadText(catalog.ModuleOf(PtxBasicOps.MatMulWgmma)), Does.Contain(".target sm_90a"));
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
