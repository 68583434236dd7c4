using System.CommandLine;
using Qwen3Next.Cli.Commands;

namespace Qwen3Next.Cli;

/// <summary>The <c>kernels</c> command line; tests call <see cref="Run"/> in-process.</summary>
public static class CliApp
{
    public static int Run(string[] args)
    {
        var root = new RootCommand("kernels: Qwen3-Next-80B-A3B kernels, conformance and inference on reference, ILGPU and PTX backends.")
        {
            RunCommand.Create(),
            VerifyCommand.Create(),
            InspectCommand.Create(),
            PtxCommand.Create(),
            BenchCommand.Create(),
            PlanCommand.Create(),
            ProfileCommand.Create(),
        };
        root.Options.Add(CliOptions.Verbose);
        return root.Parse(args).Invoke();
    }
}
