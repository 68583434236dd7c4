using System.CommandLine;
using System.CommandLine.Invocation;
using Qwen3Next.Cli.Commands;

namespace Qwen3Next.Cli;

/// <summary>The <c>kernels</c> command line; tests call <see cref="Run"/> in-process.</summary>
/// <remarks>Exit codes: 0 success, 1 a check failed (verify, inspect --check), 2 any error — a parse error
/// included — reported as one line on stderr (<c>--verbose</c> adds the stack trace).</remarks>
public static class CliApp
{
    public static int Run(string[] args)
    {
        var root = new RootCommand("kernels: Qwen3-Next-80B-A3B kernels, conformance and inference on reference, ILGPU and PTX backends.")
        {
            RunCommand.Create(),
            TokenizeCommand.Create(),
            VerifyCommand.Create(),
            InspectCommand.Create(),
            PtxCommand.Create(),
            BenchCommand.Create(),
            PlanCommand.Create(),
            ProfileCommand.Create(),
        };
        root.Options.Add(CliOptions.Verbose);
        var parse = root.Parse(args);

        // --help and --version run even when other tokens do not parse; every other parse error is an error like any other.
        if (parse.Errors.Count > 0 && parse.Action is not CommandLineAction { ClearsParseErrors: true })
        {
            // An unrecognised token says more than the "required command" error it also causes.
            var first = parse.Errors.OrderBy(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal) ? 0 : 1).First();
            string more = parse.Errors.Count > 1 ? $" (and {parse.Errors.Count - 1} more; see --help)" : " (see --help)";
            Console.Error.WriteLine($"error: {CommandGuard.OneLine(first.Message)}{more}");
            return 2;
        }

        return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }
}
