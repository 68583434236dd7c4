using System.Reflection;
using System.Text.RegularExpressions;

namespace Qwen3Next.Cuda;

/// <summary>One embedded PTX file: its name (<c>&lt;family&gt;/&lt;file&gt;.ptx</c>) and the kernels it defines.</summary>
public sealed record PtxModuleInfo(string Name, string ResourceName, IReadOnlyList<string> Entries);

/// <summary>
/// The PTX modules compiled by <c>kernels/build.sh</c> and embedded in this assembly (resources named
/// <c>ptx/&lt;family&gt;/&lt;file&gt;.ptx</c>), with the <c>.entry</c> names parsed from each text. When nvcc was
/// absent at build time the catalog is empty and every lookup explains that the ptx backend is unavailable.
/// </summary>
public sealed partial class PtxCatalog
{
    public const string ResourcePrefix = "ptx/";

    public const string UnavailableMessage = "the ptx backend is unavailable: this build has no embedded PTX (nvcc was not found at build time)";

    private static readonly Lazy<PtxCatalog> EmbeddedCatalog = new(() => FromAssembly(typeof(PtxCatalog).Assembly));

    private readonly Assembly? assembly;
    private readonly Dictionary<string, PtxModuleInfo> moduleOfKernel = new(StringComparer.Ordinal);

    private PtxCatalog(Assembly? assembly, IReadOnlyList<PtxModuleInfo> modules)
    {
        this.assembly = assembly;
        Modules = modules;
        foreach (var module in modules)
        {
            foreach (var entry in module.Entries)
            {
                if (!moduleOfKernel.TryAdd(entry, module))
                {
                    throw new InvalidOperationException($"Kernel '{entry}' is defined by both {moduleOfKernel[entry].Name} and {module.Name}.");
                }
            }
        }
    }

    /// <summary>The PTX embedded in the runtime assembly.</summary>
    public static PtxCatalog Embedded => EmbeddedCatalog.Value;

    public IReadOnlyList<PtxModuleInfo> Modules { get; }

    public bool IsEmpty => Modules.Count == 0;

    public IEnumerable<string> Kernels => moduleOfKernel.Keys.Order(StringComparer.Ordinal);

    public static PtxCatalog FromAssembly(Assembly assembly)
    {
        var modules = new List<PtxModuleInfo>();
        foreach (var resource in assembly.GetManifestResourceNames().Order(StringComparer.Ordinal))
        {
            var normalized = resource.Replace('\\', '/');
            if (normalized.StartsWith(ResourcePrefix, StringComparison.Ordinal) && normalized.EndsWith(".ptx", StringComparison.Ordinal))
            {
                modules.Add(new PtxModuleInfo(normalized[ResourcePrefix.Length..], resource, ParseEntries(Read(assembly, resource))));
            }
        }

        return new PtxCatalog(assembly, modules);
    }

    /// <summary>The <c>.entry</c> names (kernels) a PTX text defines, in order. <c>.func</c> device functions are not kernels.</summary>
    public static IReadOnlyList<string> ParseEntries(string ptx) => EntryPattern().Matches(ptx).Select(m => m.Groups[1].Value).ToList();

    /// <summary>Throws <see cref="NotSupportedException"/> with <see cref="UnavailableMessage"/> when nothing is embedded.</summary>
    public void EnsureAvailable()
    {
        if (IsEmpty)
        {
            throw new NotSupportedException(UnavailableMessage);
        }
    }

    public bool Contains(string kernel) => moduleOfKernel.ContainsKey(kernel);

    /// <summary>The module defining <paramref name="kernel"/>.</summary>
    public PtxModuleInfo ModuleOf(string kernel)
    {
        EnsureAvailable();
        return moduleOfKernel.TryGetValue(kernel, out var module) ? module
            : throw new KeyNotFoundException($"No embedded PTX module defines kernel '{kernel}' (embedded: {string.Join(", ", Modules.Select(m => m.Name))}).");
    }

    public string ReadText(PtxModuleInfo module) => Read(assembly ?? throw new InvalidOperationException("No assembly."), module.ResourceName);

    private static string Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource) ?? throw new InvalidOperationException($"Resource '{resource}' is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    // ".visible .entry name(" or ".entry name (" — the name is a PTX identifier.
    [GeneratedRegex(@"^\s*(?:\.visible\s+|\.weak\s+)?\.entry\s+([A-Za-z_$%][\w$%]*)", RegexOptions.Multiline)]
    private static partial Regex EntryPattern();
}
