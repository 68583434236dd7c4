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

    /// <summary><c>--precision exact|fast</c>; absent = the backend's default (fast on a GPU with the ptx backend,
    /// exact elsewhere). An unknown mode is a parse error.</summary>
    public static Option<string?> Precision() => new Option<string?>("--precision")
    {
        Description = $"Kernel arithmetic: exact (fp32, golden tolerances) or fast (bf16 operands on tensor cores, fp32 accumulation). Default: fast on a GPU (ptx), exact elsewhere.",
    }.Require(v => v is null || PrecisionModes.Names.Contains(v.Trim().ToLowerInvariant()), $"one of {string.Join(", ", PrecisionModes.Names)}");

    /// <summary>The parsed <c>--precision</c>, or null for the backend's default.</summary>
    public static Precision? PrecisionOf(string? value) => value is null ? null : PrecisionModes.Parse(value);

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
