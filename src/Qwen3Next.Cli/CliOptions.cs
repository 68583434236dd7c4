using System.CommandLine;
using Qwen3Next.Backends;

namespace Qwen3Next.Cli;

/// <summary>Options shared by several commands, and the range checks every numeric option gets at parse time
/// (so a NaN, a negative count or an out-of-range fraction is a parse error, exit 2, never a silent default).</summary>
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

    /// <summary>Makes a value outside <paramref name="valid"/> a parse error: "--name must be WHAT (got V)". Write the
    /// predicate so that NaN fails (a comparison with NaN is always false).</summary>
    public static Option<T> Require<T>(this Option<T> option, Func<T, bool> valid, string what)
    {
        option.Validators.Add(result =>
        {
            T value;
            try
            {
                value = result.GetValueOrDefault<T>();
            }
            catch (InvalidOperationException)
            {
                return; // not a T at all: the parser reports that itself
            }

            if (!valid(value))
            {
                result.AddError($"{option.Name} must be {what} (got {value}).");
            }
        });
        return option;
    }

    public static Option<int> AtLeast(this Option<int> option, int min) => option.Require(v => v >= min, $"at least {min}");

    public static Option<float> FiniteAtLeast(this Option<float> option, float min) => option.Require(v => v >= min && float.IsFinite(v), $"a finite number ≥ {min}");

    public static Option<double> Positive(this Option<double> option) => option.Require(v => v > 0 && double.IsFinite(v), "a finite number > 0");

    public static Option<double?> Positive(this Option<double?> option) => option.Require(v => v is null || (v > 0 && double.IsFinite(v.Value)), "a finite number > 0");
}
