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
        catch (Exception e)
        {
            // Errors a user can cause print their message; anything else is a bug here, named as such.
            bool expected = e is CheckpointException or IOException or UnauthorizedAccessException or ArgumentException
                or InvalidOperationException or FormatException or System.Text.Json.JsonException or NotSupportedException
                or ArithmeticException or OutOfMemoryException or KeyNotFoundException;
            Console.Error.WriteLine(expected
                ? $"error: {OneLine(e.Message)}"
                : $"error: internal error ({e.GetType().Name}): {OneLine(e.Message)} (--verbose prints the stack trace)");
            if (parse.GetValue(CliOptions.Verbose))
            {
                Console.Error.WriteLine(e);
            }

            return 2;
        }
    }

    /// <summary>Messages with line breaks (some library exceptions have them) still make one line.</summary>
    public static string OneLine(string message) => string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
