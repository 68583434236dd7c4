using System.Reflection;

namespace Qwen3Next.PtxEmulator.Model;

/// <summary>
/// Registers and static shared memory per kernel, read from the ptxas reports the build writes
/// (docs/ptxas-report.md for the CUDA C kernels, docs/ilgpu-ptxas-report.md for ILGPU's, both embedded in this
/// assembly). A report is a markdown table whose header names a kernel column, a registers column and a shared
/// memory column ("smem" or "shared"); other rows and columns are ignored.
/// </summary>
public sealed class PtxasReport
{
    private const string ResourcePrefix = "ptxas/";
    private static readonly Lazy<PtxasReport> EmbeddedReport = new(LoadEmbedded);
    private readonly Dictionary<string, KernelResources> kernels = new(StringComparer.Ordinal);

    private PtxasReport()
    {
    }

    /// <summary>Both reports embedded at build time.</summary>
    public static PtxasReport Embedded => EmbeddedReport.Value;

    public IReadOnlyCollection<KernelResources> Kernels => kernels.Values;

    /// <summary>Reads the tables of one or more reports (source name, markdown text).</summary>
    public static PtxasReport Parse(params (string Source, string Markdown)[] reports)
    {
        var report = new PtxasReport();
        foreach (var (source, markdown) in reports)
        {
            report.AddTables(source, markdown);
        }

        return report;
    }

    public bool TryGet(string kernel, out KernelResources resources) => kernels.TryGetValue(kernel, out resources!);

    /// <summary>The resources of <paramref name="kernel"/>, looked up by entry name and then by module name (ILGPU
    /// kernels are named by their module, e.g. <c>BasicKernels.Gemv</c>); a fallback when neither is listed. The
    /// static shared memory is the larger of the report's and the PTX's.</summary>
    public KernelResources Resolve(string kernel, string module, int staticSharedBytes, int threadsPerCta, H200Spec spec)
    {
        string moduleName = Path.GetFileNameWithoutExtension(module);
        if (kernels.TryGetValue(kernel, out var found) || kernels.TryGetValue(module, out found) || kernels.TryGetValue(moduleName, out found))
        {
            return found with { Kernel = kernel, StaticSharedBytes = Math.Max(found.StaticSharedBytes, staticSharedBytes) };
        }

        return KernelResources.Fallback(kernel, staticSharedBytes, threadsPerCta, spec);
    }

    private void AddTables(string source, string markdown)
    {
        int kernelColumn = -1, registerColumn = -1, sharedColumn = -1;
        foreach (var raw in markdown.Split('\n'))
        {
            string line = raw.Trim();
            if (!line.StartsWith('|'))
            {
                kernelColumn = registerColumn = sharedColumn = -1;
                continue;
            }

            var cells = line.Trim('|').Split('|').Select(c => c.Trim().Trim('`')).ToArray();
            if (kernelColumn < 0)
            {
                kernelColumn = Array.FindIndex(cells, c => c.Equals("kernel", StringComparison.OrdinalIgnoreCase));
                registerColumn = Array.FindIndex(cells, c => c.StartsWith("registers", StringComparison.OrdinalIgnoreCase));
                sharedColumn = Array.FindIndex(cells, c => c.Contains("smem", StringComparison.OrdinalIgnoreCase) || c.Contains("shared", StringComparison.OrdinalIgnoreCase));
                if (registerColumn < 0)
                {
                    kernelColumn = -1;
                }

                continue;
            }

            if (cells.All(c => c.Trim(':', '-').Length == 0) || cells.Length <= Math.Max(kernelColumn, registerColumn))
            {
                continue;
            }

            if (!int.TryParse(cells[registerColumn], out int registers))
            {
                throw new FormatException($"{source}: kernel {cells[kernelColumn]} has registers '{cells[registerColumn]}', not a number");
            }

            int shared = sharedColumn >= 0 && sharedColumn < cells.Length && int.TryParse(cells[sharedColumn], out int s) ? s : 0;
            kernels[cells[kernelColumn]] = new KernelResources(cells[kernelColumn], registers, shared, source);
        }
    }

    private static PtxasReport LoadEmbedded()
    {
        var assembly = typeof(PtxasReport).Assembly;
        var reports = assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n => ("docs/" + n[ResourcePrefix.Length..], Read(assembly, n)))
            .ToArray();
        return Parse(reports);
    }

    private static string Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
