using Qwen3Next.PtxEmulator.Parsing;

namespace Qwen3Next.PtxEmulator.Decoding;

/// <summary>
/// Turns one parsed <c>.entry</c> into a <see cref="DecodedKernel"/>: lays out parameters, static/dynamic shared
/// and local memory, numbers registers, interns immediates and symbol addresses as constant registers, resolves
/// labels, and decodes each instruction into an <see cref="Instr"/> (the opcode half lives in
/// <c>KernelDecoder.Instructions.cs</c>). Anything it does not implement is an <see cref="UnsupportedPtxException"/>.
/// </summary>
internal sealed partial class KernelDecoder
{
    /// <summary>Generic addresses at and above this value are shared memory (offset = address − base).</summary>
    public const ulong SharedWindow = 0xFFFF_F000_0000_0000;

    /// <summary>Generic addresses in [<see cref="LocalWindow"/>, <see cref="SharedWindow"/>) are the thread's local memory.</summary>
    public const ulong LocalWindow = 0xFFFF_E000_0000_0000;

    private readonly string module;
    private readonly PtxEntrySyntax entry;
    private readonly Dictionary<string, int> registers = new(StringComparer.Ordinal);
    private readonly HashSet<int> wideRegisters = [];
    private readonly Dictionary<ulong, int> constants = [];
    private readonly List<(int, ulong)> constantList = [];
    private readonly List<(int, SpecialRegister)> specialList = [];
    private readonly Dictionary<string, (MemorySpace Space, ulong Address)> symbols = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> labels = new(StringComparer.Ordinal);
    private readonly List<int> registerLists = [];
    private int registerCount;
    private int sinkRegister = -1;
    private PtxInstructionSyntax current = null!;

    private KernelDecoder(string module, PtxEntrySyntax entry)
    {
        this.module = module;
        this.entry = entry;
    }

    /// <summary>Decodes <paramref name="entry"/>; module-scope globals must already have device addresses.</summary>
    public static DecodedKernel Decode(PtxModuleSyntax syntax, PtxEntrySyntax entry, IReadOnlyDictionary<string, ulong> globalAddresses)
        => new KernelDecoder(syntax.Name, entry).Run(syntax, globalAddresses);

    private DecodedKernel Run(PtxModuleSyntax syntax, IReadOnlyDictionary<string, ulong> globalAddresses)
    {
        foreach (var (name, address) in globalAddresses)
        {
            symbols[name] = (MemorySpace.Global, address);
        }

        var parameters = LayoutParameters(out int parameterBytes);
        var (staticShared, dynamicOffset) = LayoutShared(syntax);
        int localBytes = LayoutLocal();
        DeclareRegisters();

        var instructions = entry.Body.OfType<PtxInstructionSyntax>().ToList();
        int index = 0;
        foreach (var statement in entry.Body)
        {
            if (statement is PtxLabel label)
            {
                labels[label.Name] = index;
            }
            else if (statement is PtxInstructionSyntax)
            {
                index++;
            }
        }

        var code = new Instr[instructions.Count + 1];
        var source = new string[code.Length];
        for (int i = 0; i < instructions.Count; i++)
        {
            current = instructions[i];
            code[i] = DecodeInstruction(current);
            code[i].Line = current.Line;
            source[i] = current.Text;
        }

        // A final exit, so falling off the end of the body ends the thread as on hardware.
        code[^1] = new Instr { Op = Op.Exit, Guard = -1, D = -1, D2 = -1, A = -1, B = -1, C = -1, E = -1, Line = entry.Line };
        source[^1] = "(end of kernel)";

        return new DecodedKernel(module, entry.Name, code, source, registerLists.ToArray(), registerCount, constantList.ToArray(),
            specialList.ToArray(), parameters, parameterBytes, staticShared, dynamicOffset, localBytes, entry.MaxThreads);
    }

    private List<KernelParameter> LayoutParameters(out int bytes)
    {
        var result = new List<KernelParameter>();
        int offset = 0;
        foreach (var p in entry.Parameters)
        {
            int align = Math.Max(1, p.Align);
            offset = AlignUp(offset, align);
            result.Add(new KernelParameter(p.Name, offset, p.ByteSize, align, p.ElementType.TrimStart('.')));
            symbols[p.Name] = (MemorySpace.Param, (ulong)offset);
            offset += p.ByteSize;
        }

        bytes = offset;
        return result;
    }

    private (int Static, int DynamicOffset) LayoutShared(PtxModuleSyntax syntax)
    {
        var shared = syntax.Variables.Where(v => v.Space == PtxStateSpace.Shared)
            .Concat(entry.Body.OfType<PtxLocalVariable>().Select(v => v.Variable).Where(v => v.Space == PtxStateSpace.Shared))
            .ToList();
        int offset = 0, dynamicAlign = 16;
        foreach (var v in shared.Where(v => !v.IsUnsized))
        {
            offset = AlignUp(offset, Math.Max(1, v.Align));
            symbols[v.Name] = (MemorySpace.Shared, (ulong)offset);
            offset += v.ByteSize;
        }

        foreach (var v in shared.Where(v => v.IsUnsized))
        {
            dynamicAlign = Math.Max(dynamicAlign, v.Align);
        }

        int dynamicOffset = AlignUp(offset, dynamicAlign);
        foreach (var v in shared.Where(v => v.IsUnsized))
        {
            symbols[v.Name] = (MemorySpace.Shared, (ulong)dynamicOffset);
        }

        return (offset, dynamicOffset);
    }

    private int LayoutLocal()
    {
        int offset = 0;
        foreach (var v in entry.Body.OfType<PtxLocalVariable>().Select(v => v.Variable).Where(v => v.Space == PtxStateSpace.Local))
        {
            offset = AlignUp(offset, Math.Max(1, v.Align));
            symbols[v.Name] = (MemorySpace.Local, (ulong)offset);
            offset += v.ByteSize;
        }

        return AlignUp(offset, 8);
    }

    private void DeclareRegisters()
    {
        foreach (var d in entry.Body.OfType<PtxRegisterDeclaration>())
        {
            bool wide = PtxParser.TypeBytes(d.Type) == 8;
            for (int i = 0; i < Math.Max(1, d.Count); i++)
            {
                if (wide)
                {
                    wideRegisters.Add(registerCount);
                }

                registers[d.Count == 0 ? d.Name : d.Name + i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = registerCount++;
            }
        }
    }

    /// <summary>True when the register at offset <paramref name="offset"/> (index × 32) is declared 64-bit.</summary>
    private bool IsWide(int offset) => wideRegisters.Contains(offset / 32);

    internal static int AlignUp(int value, int align) => (value + align - 1) / align * align;

    private UnsupportedPtxException Unsupported(string construct) => new(module, current.Line, construct, current.Text);

    /// <summary>The register-file offset (index × 32) of a constant holding <paramref name="bits"/>.</summary>
    private int Constant(ulong bits)
    {
        if (!constants.TryGetValue(bits, out int reg))
        {
            reg = registerCount++;
            constants[bits] = reg;
            constantList.Add((reg, bits));
        }

        return reg * 32;
    }

    private int Special(SpecialRegister kind)
    {
        foreach (var (reg, k) in specialList)
        {
            if (k == kind)
            {
                return reg * 32;
            }
        }

        int r = registerCount++;
        specialList.Add((r, kind));
        return r * 32;
    }

    private int Sink()
    {
        if (sinkRegister < 0)
        {
            sinkRegister = registerCount++;
        }

        return sinkRegister * 32;
    }

    /// <summary>A destination register (or the sink for <c>_</c>).</summary>
    private int Dst(PtxOperand op)
    {
        if (op.Kind == PtxOperandKind.Sink)
        {
            return Sink();
        }

        if (op.Kind != PtxOperandKind.Register || op.Negated)
        {
            throw Unsupported($"destination operand '{op}'");
        }

        return registers.TryGetValue(op.Name, out int r) ? r * 32 : throw Unsupported($"undeclared register {op.Name}");
    }

    /// <summary>A source operand as a register offset: a register, a special register, an immediate converted to
    /// <paramref name="type"/>'s bits, or the address of a symbol.</summary>
    private int Src(PtxOperand op, ScalarType type)
    {
        switch (op.Kind)
        {
            case PtxOperandKind.Register when !op.Negated:
                if (registers.TryGetValue(op.Name, out int r))
                {
                    return r * 32;
                }

                return Special(SpecialOf(op.Name));
            case PtxOperandKind.Integer:
                return Constant(IntegerBits(op.Bits, type));
            case PtxOperandKind.Float32:
                return type switch
                {
                    ScalarType.F64 => Constant((ulong)BitConverter.DoubleToInt64Bits(BitConverter.UInt32BitsToSingle((uint)op.Bits))),
                    _ => Constant((uint)op.Bits),
                };
            case PtxOperandKind.Float64:
                return type switch
                {
                    ScalarType.F32 => Constant(BitConverter.SingleToUInt32Bits((float)BitConverter.Int64BitsToDouble(op.Bits))),
                    _ => Constant((ulong)op.Bits),
                };
            case PtxOperandKind.Symbol:
                return Constant(SymbolAddress(op.Name, out _) + (ulong)op.Offset);
            default:
                throw Unsupported($"source operand '{op}'");
        }
    }

    /// <summary>An integer immediate as the operand type sees it; for a float type, the value converted.</summary>
    private static ulong IntegerBits(long value, ScalarType type) => type switch
    {
        ScalarType.F32 => BitConverter.SingleToUInt32Bits(value),
        ScalarType.F64 => (ulong)BitConverter.DoubleToInt64Bits(value),
        _ when type.Bytes() is > 0 and < 8 => (ulong)value & ((1ul << (8 * type.Bytes())) - 1),
        _ => (ulong)value,
    };

    /// <summary>A predicate source, possibly negated (<c>!%p</c>).</summary>
    private (int Register, bool Negated) Predicate(PtxOperand op)
    {
        if (op.Kind == PtxOperandKind.Integer)
        {
            return (Constant(op.Bits != 0 ? 1ul : 0ul), false);
        }

        if (op.Kind != PtxOperandKind.Register || !registers.TryGetValue(op.Name, out int r))
        {
            throw Unsupported($"predicate operand '{op}'");
        }

        return (r * 32, op.Negated);
    }

    private ulong SymbolAddress(string name, out MemorySpace space)
    {
        if (symbols.TryGetValue(name, out var s))
        {
            space = s.Space;
            return s.Address;
        }

        throw Unsupported($"reference to unknown symbol {name}");
    }

    private SpecialRegister SpecialOf(string name) => name switch
    {
        "%tid.x" => SpecialRegister.TidX,
        "%tid.y" => SpecialRegister.TidY,
        "%tid.z" => SpecialRegister.TidZ,
        "%ntid.x" => SpecialRegister.NtidX,
        "%ntid.y" => SpecialRegister.NtidY,
        "%ntid.z" => SpecialRegister.NtidZ,
        "%ctaid.x" => SpecialRegister.CtaidX,
        "%ctaid.y" => SpecialRegister.CtaidY,
        "%ctaid.z" => SpecialRegister.CtaidZ,
        "%nctaid.x" => SpecialRegister.NctaidX,
        "%nctaid.y" => SpecialRegister.NctaidY,
        "%nctaid.z" => SpecialRegister.NctaidZ,
        "%laneid" => SpecialRegister.LaneId,
        "%warpid" => SpecialRegister.WarpId,
        "%nwarpid" => SpecialRegister.NWarpId,
        "%lanemask_eq" => SpecialRegister.LaneMaskEq,
        "%lanemask_lt" => SpecialRegister.LaneMaskLt,
        "%lanemask_le" => SpecialRegister.LaneMaskLe,
        "%lanemask_gt" => SpecialRegister.LaneMaskGt,
        "%lanemask_ge" => SpecialRegister.LaneMaskGe,
        "%dynamic_smem_size" => SpecialRegister.DynamicSmemSize,
        "%total_smem_size" => SpecialRegister.TotalSmemSize,
        _ => throw Unsupported($"register {name} (undeclared, and not a supported special register)"),
    };

    /// <summary>Stores the register offsets of a vector operand (or a single register) in the shared list.</summary>
    private int List(PtxOperand op, ScalarType type, bool destination, int expected)
    {
        var elements = op.Kind == PtxOperandKind.Vector ? op.Elements! : [op];
        if (elements.Count != expected)
        {
            throw Unsupported($"operand '{op}' (expected {expected} registers)");
        }

        int start = registerLists.Count;
        foreach (var e in elements)
        {
            registerLists.Add(destination ? Dst(e) : Src(e, type));
        }

        return start;
    }
}
