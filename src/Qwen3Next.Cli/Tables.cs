using Spectre.Console;
using Spectre.Console.Rendering;

namespace Qwen3Next.Cli;

/// <summary>Writes Spectre renderables to whatever <see cref="Console.Out"/> is now: the static AnsiConsole keeps the
/// writer it first saw, which breaks when the CLI runs in-process more than once with redirected output (tests).</summary>
internal static class Tables
{
    public static void Write(IRenderable table)
        => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) }).Write(table);
}
