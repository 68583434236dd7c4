using System.CommandLine;
using Qwen3Next.Cli;
using Qwen3Next.Cli.Commands;

var root = new RootCommand("kernels: Qwen3-Next-80B-A3B kernels, conformance and inference on reference, ILGPU and PTX backends.")
{
    RunCommand.Create(),
    VerifyCommand.Create(),
    InspectCommand.Create(),
};
root.Options.Add(CliOptions.Verbose);
return root.Parse(args).Invoke();
