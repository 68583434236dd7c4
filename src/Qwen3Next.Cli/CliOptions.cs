using System.CommandLine;
using Qwen3Next.Backends;

namespace Qwen3Next.Cli;

/// <summary>Options shared by several commands.</summary>
internal static class CliOptions
{
    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Print stack traces on errors.",
        Recursive = true,
    };

    public static Option<string> Backend() => new("--backend", "-b")
    {
        Description = $"Kernel backend: {string.Join(", ", BackendRegistry.Names)}.",
        DefaultValueFactory = _ => "reference",
    };

    public static Option<FileInfo?> Json(string what) => new("--json")
    {
        Description = $"Write {what} as JSON to this file.",
    };

    /// <summary>The tiny Qwen3-Next checkpoint shipped beside the executable.</summary>
    public static string DefaultModelFolder => Path.Combine(AppContext.BaseDirectory, "models", "tiny-qwen3-next");
}
