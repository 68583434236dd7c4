namespace Qwen3Next.Cli.Commands; internal static class InspectCommand { public static System.CommandLine.Command Create() => new("inspect"); }
