using Qwen3Next.PtxEmulator.Decoding;
using Qwen3Next.PtxEmulator.Memory;
using Qwen3Next.PtxEmulator.Parsing;

namespace Qwen3Next.PtxEmulator;

/// <summary>
/// A PTX module loaded on an <see cref="EmulatedGpu"/> (<c>cuModuleLoadData</c>): parsed once, its <c>.global</c>
/// variables allocated and initialised, every kernel decoded up front so unsupported PTX fails at load time with
/// its line, as a JIT error would.
/// </summary>
public sealed class EmulatedModule : IDisposable
{
    private readonly DeviceMemory memory;
    private readonly List<MemoryRegion> globals = [];
    private readonly Dictionary<string, DecodedKernel> kernels = new(StringComparer.Ordinal);

    internal EmulatedModule(DeviceMemory memory, string name, string ptx)
    {
        this.memory = memory;
        Name = name;
        Syntax = PtxParser.Parse(ptx, name);
        var addresses = new Dictionary<string, ulong>(StringComparer.Ordinal);
        try
        {
            foreach (var v in Syntax.Variables.Where(v => v.Space is PtxStateSpace.Global or PtxStateSpace.Const))
            {
                var region = memory.AllocateGlobal(v.Initializer ?? [], v.ByteSize, v.Align, $"{name}:{v.Name}");
                globals.Add(region);
                addresses[v.Name] = region.Start;
            }

            foreach (var entry in Syntax.Entries)
            {
                kernels[entry.Name] = KernelDecoder.Decode(Syntax, entry, addresses);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Name { get; }

    public PtxModuleSyntax Syntax { get; }

    public IEnumerable<string> KernelNames => kernels.Keys;

    /// <summary>The kernel <paramref name="entry"/> (<c>cuModuleGetFunction</c>).</summary>
    public DecodedKernel GetKernel(string entry)
        => kernels.TryGetValue(entry, out var k) ? k
            : throw new PtxEmulatorException($"module {Name} has no kernel '{entry}' (it has: {string.Join(", ", kernels.Keys)})");

    public void Dispose()
    {
        foreach (var g in globals)
        {
            if (!g.Freed)
            {
                memory.FreeGlobal(g);
            }
        }

        globals.Clear();
    }
}
