using Qwen3Next.Cli;

namespace Qwen3Next.Tests.Cli;

/// <summary>Runs the <c>kernels</c> command in-process and captures what it prints.</summary>
internal static class CliRunner
{
    private static readonly object ConsoleLock = new();

    public static (int ExitCode, string Out, string Err) Run(params string[] args)
    {
        lock (ConsoleLock)
        {
            var (oldOut, oldErr) = (Console.Out, Console.Error);
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            Console.SetOut(stdout);
            Console.SetError(stderr);
            try
            {
                int code = CliApp.Run(args);
                return (code, stdout.ToString(), stderr.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }
}
