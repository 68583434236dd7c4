using NUnit.Framework;
using Qwen3Next.Cuda;
using Qwen3Next.Device;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Parsing;

namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// Every instruction form in the PTX this project ships — the nvcc modules embedded in the runtime and the PTX of
/// every ILGPU kernel — loads and decodes on the emulator. The census of distinct opcode-with-modifiers forms is
/// written to the test output; a failure names each unsupported form with its module and line.
/// </summary>
[TestFixture]
public sealed class OpcodeCensusTests
{
    /// <summary>ILGPU's PTX, compiled once per test run (a few seconds).</summary>
    private static readonly Lazy<IReadOnlyList<IlgpuPtxKernel>> IlgpuKernels = new(() => IlgpuPtxExport.CompileAll());

    private static IEnumerable<(string Name, string Ptx)> NvccModules()
    {
        var catalog = PtxCatalog.Embedded;
        return catalog.Modules.Select(m => (m.Name, catalog.ReadText(m)));
    }

    private static IEnumerable<(string Name, string Ptx)> IlgpuModules() => IlgpuKernels.Value.Select(k => ($"ilgpu:{k.Name}", k.Ptx));

    /// <summary>opcode.modifier… of an instruction, e.g. <c>ld.global.nc.v4.f32</c>.</summary>
    private static string Form(PtxInstructionSyntax instruction) => string.Join('.', [instruction.Opcode, .. instruction.Modifiers]);

    /// <summary>
    /// Loads the module; each unsupported line is recorded and commented out, and the load retried, so one run names
    /// every unsupported construct of the module rather than the first.
    /// </summary>
    private static List<string> Unsupported(string name, string ptx)
    {
        var problems = new List<string>();
        var lines = ptx.Split('\n');
        var forms = PtxParser.Parse(ptx, name).Entries.SelectMany(e => e.Body).OfType<PtxInstructionSyntax>().ToDictionary(i => i.Line, Form);
        for (int attempt = 0; attempt < lines.Length; attempt++)
        {
            try
            {
                using var gpu = new EmulatedGpu();
                gpu.LoadModule(string.Join('\n', lines), name).Dispose();
                return problems;
            }
            catch (UnsupportedPtxException e)
            {
                string form = forms.TryGetValue(e.Line, out var f) ? f : lines[e.Line - 1].Trim();
                problems.Add($"{form}  ({e.Message})");
                lines[e.Line - 1] = "// " + lines[e.Line - 1];
            }
            catch (PtxSyntaxException e)
            {
                problems.Add($"syntax: {e.Message}");
                return problems;
            }
        }

        return problems;
    }

    private static void Census(IReadOnlyList<(string Name, string Ptx)> modules, string origin)
    {
        Assert.That(modules, Is.Not.Empty, $"no {origin} PTX to check");
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, ptx) in modules)
        {
            foreach (var instruction in PtxParser.Parse(ptx, name).Entries.SelectMany(e => e.Body).OfType<PtxInstructionSyntax>())
            {
                string form = Form(instruction);
                counts[form] = counts.GetValueOrDefault(form) + 1;
            }
        }

        TestContext.Out.WriteLine($"{origin}: {modules.Count} modules, {counts.Values.Sum()} instructions, {counts.Count} distinct forms");
        foreach (var (form, count) in counts)
        {
            TestContext.Out.WriteLine($"  {count,6}  {form}");
        }

        var failures = modules.SelectMany(m => Unsupported(m.Name, m.Ptx)).ToList();
        Assert.That(failures, Is.Empty, $"{failures.Count} unsupported construct(s) in the {origin} PTX:{Environment.NewLine}" + string.Join(Environment.NewLine, failures));
    }

    [Test]
    public void EveryInstructionFormOfTheNvccKernelsDecodes()
    {
        if (PtxCatalog.Embedded.IsEmpty)
        {
            Assert.Ignore("No PTX is embedded: nvcc was not available when the runtime was built (run kernels/build.sh, then rebuild).");
        }

        Census(NvccModules().ToList(), "nvcc");
    }

    [Test]
    public void EveryInstructionFormOfTheIlgpuKernelsDecodes() => Census(IlgpuModules().ToList(), "ILGPU");
}
