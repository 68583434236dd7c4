namespace Qwen3Next.PtxEmulator.Decoding;

/// <summary>Values the hardware provides per thread, CTA or launch, held in hidden registers of every warp.</summary>
public enum SpecialRegister : byte
{
    TidX, TidY, TidZ, NtidX, NtidY, NtidZ, CtaidX, CtaidY, CtaidZ, NctaidX, NctaidY, NctaidZ,
    LaneId, WarpId, NWarpId, LaneMaskEq, LaneMaskLt, LaneMaskLe, LaneMaskGt, LaneMaskGe, DynamicSmemSize, TotalSmemSize,
}

/// <summary>One kernel parameter: its name, byte offset in the parameter buffer, size and PTX type.</summary>
public sealed record KernelParameter(string Name, int Offset, int Size, int Align, string Type);

/// <summary>
/// A kernel ready to run: compact instructions, the register-file layout (declared, special and constant
/// registers), parameter layout, static shared and per-thread local memory. Decoded once per module load.
/// </summary>
public sealed class DecodedKernel
{
    internal DecodedKernel(string module, string name, Instr[] code, string[] source, int[] registerLists, int registerCount,
        (int Register, ulong Bits)[] constants, (int Register, SpecialRegister Kind)[] specials, IReadOnlyList<KernelParameter> parameters,
        int parameterBytes, int staticSharedBytes, int dynamicSharedOffset, int localBytes, int maxThreads)
    {
        Module = module;
        Name = name;
        Code = code;
        Source = source;
        RegisterLists = registerLists;
        RegisterCount = registerCount;
        Constants = constants;
        Specials = specials;
        Parameters = parameters;
        ParameterBytes = parameterBytes;
        StaticSharedBytes = staticSharedBytes;
        DynamicSharedOffset = dynamicSharedOffset;
        LocalBytes = localBytes;
        MaxThreads = maxThreads;
    }

    public string Module { get; }

    public string Name { get; }

    internal Instr[] Code { get; }

    /// <summary>The PTX text of each instruction, for findings and errors.</summary>
    internal string[] Source { get; }

    internal int[] RegisterLists { get; }

    /// <summary>Registers per thread, hidden ones included.</summary>
    public int RegisterCount { get; }

    internal (int Register, ulong Bits)[] Constants { get; }

    internal (int Register, SpecialRegister Kind)[] Specials { get; }

    public IReadOnlyList<KernelParameter> Parameters { get; }

    public int ParameterBytes { get; }

    public int StaticSharedBytes { get; }

    /// <summary>Where dynamic shared memory (<c>.extern .shared … []</c>) starts, after static shared memory.</summary>
    public int DynamicSharedOffset { get; }

    /// <summary>Per-thread local memory (<c>.local</c> depots).</summary>
    public int LocalBytes { get; }

    /// <summary><c>.maxntid</c>/<c>.reqntid</c> product, 0 when absent.</summary>
    public int MaxThreads { get; }

    public int InstructionCount => Code.Length;

    public string Describe(int pc) => $"{Module}:{Code[pc].Line} `{Source[pc]}`";
}
