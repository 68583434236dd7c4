using System.CommandLine;
using Qwen3Next.Checkpoint;

namespace Qwen3Next.Cli;

/// <summary>Turns any failure into one clear line on stderr and exit code 2 (1 is "checks failed"),
/// with the stack trace only under --verbose.</summary>
internal static class CommandGuard
{
    public static int Run(ParseResult parse, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is CheckpointException or IOException or UnauthorizedAccessException or ArgumentException
            or InvalidOperationException or FormatException or System.Text.Json.JsonException or NotSupportedException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            if (parse.GetValue(CliOptions.Verbose))
            {
                Console.Error.WriteLine(e);
            }

            return 2;
        }
    }
}
