namespace Qwen3Next.Cli.Commands; internal static class RunCommand { public static System.CommandLine.Command Create() => new("run"); }
