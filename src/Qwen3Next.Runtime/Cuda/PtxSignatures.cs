using System.Text.RegularExpressions;

namespace Qwen3Next.Cuda;

/// <summary>
/// The parameter lists of the embedded kernels, parsed from their <c>.entry</c> declarations, so every launch's
/// arguments can be checked against what the compiled kernel expects (count, and 64-bit pointer/long, 32-bit int
/// or f32 per position) — without a GPU.
/// </summary>
public sealed partial class PtxSignatures
{
    private readonly Dictionary<string, string[]> parameters = new(StringComparer.Ordinal);

    public PtxSignatures(PtxCatalog catalog)
    {
        foreach (var module in catalog.Modules)
        {
            foreach (var (kernel, types) in Parse(catalog.ReadText(module)))
            {
                parameters[kernel] = types;
            }
        }
    }

    /// <summary>The <c>.entry</c> kernels of one PTX text with their parameter types, in declaration order.</summary>
    public static IReadOnlyDictionary<string, string[]> Parse(string ptx)
    {
        var result = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (Match entry in EntryPattern().Matches(ptx))
        {
            result[entry.Groups[1].Value] = ParamPattern().Matches(entry.Groups[2].Value).Select(m => m.Groups[1].Value).ToArray();
        }

        return result;
    }

    /// <summary>The PTX parameter types (<c>u64</c>, <c>u32</c>, <c>f32</c>, …) of <paramref name="kernel"/>.</summary>
    public IReadOnlyList<string> Of(string kernel) => parameters.TryGetValue(kernel, out var p) ? p
        : throw new ArgumentException($"Kernel '{kernel}' has no .entry in the embedded PTX.");

    /// <summary>Throws <see cref="ArgumentException"/> naming the kernel and position of the first mismatch.</summary>
    public void Check(string kernel, KernelArguments arguments) => Check(kernel, Of(kernel), arguments);

    /// <summary>Checks <paramref name="arguments"/> against the parameter types <paramref name="expected"/> of <paramref name="kernel"/>.</summary>
    public static void Check(string kernel, IReadOnlyList<string> expected, KernelArguments arguments)
    {
        if (expected.Count != arguments.Count)
        {
            throw new ArgumentException($"Kernel '{kernel}' takes {expected.Count} parameters ({string.Join(", ", expected)}); the launcher passed {arguments.Count}.");
        }

        for (int i = 0; i < expected.Count; i++)
        {
            var kind = arguments.KindAt(i);
            bool ok = expected[i] switch
            {
                "u64" or "s64" or "b64" => kind is KernelArgumentKind.Pointer or KernelArgumentKind.Int64,
                "u32" or "s32" or "b32" => kind is KernelArgumentKind.Int32,
                "f32" => kind is KernelArgumentKind.Float32,
                _ => false,
            };
            if (!ok)
            {
                throw new ArgumentException($"Kernel '{kernel}' parameter {i} is .{expected[i]}; the launcher passed {kind}.");
            }
        }
    }

    [GeneratedRegex(@"\.entry\s+([A-Za-z_][A-Za-z0-9_$]*)\s*\(([^)]*)\)", RegexOptions.Singleline)]
    private static partial Regex EntryPattern();

    [GeneratedRegex(@"\.param\s+\.([a-z0-9]+)\s")]
    private static partial Regex ParamPattern();
}
