using System.CommandLine;
using Qwen3Next.Device;

namespace Qwen3Next.Cli.Commands;

/// <summary><c>kernels ptx --out DIR</c>: the PTX ILGPU generates for every kernel (sm_90, PTX ISA 7.8).</summary>
internal static class PtxCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Folder for one .ptx file per kernel.", Required = true };
        var command = new Command("ptx", "Write the PTX that ILGPU generates for every kernel (no GPU needed).") { output };
        command.SetAction(parse => CommandGuard.Run(parse, () =>
        {
            var folder = parse.GetValue(output)!;
            folder.Create();
            foreach (var kernel in IlgpuPtxExport.CompileAll())
            {
                string path = Path.Combine(folder.FullName, kernel.Name + ".ptx");
                File.WriteAllText(path, kernel.Ptx);
                Console.WriteLine($"{kernel.Name,-48} {kernel.Ptx.Length,8:N0} chars  {path}");
            }

            return 0;
        }));
        return command;
    }
}
