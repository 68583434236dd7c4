namespace Qwen3Next.PtxEmulator.Parsing;

/// <summary>A parsed PTX module: its header, module-scope variables and its kernels (<c>.entry</c>).</summary>
public sealed record PtxModuleSyntax(string Name, string Version, string Target, int AddressSize,
    IReadOnlyList<PtxVariableSyntax> Variables, IReadOnlyList<PtxEntrySyntax> Entries);

/// <summary>State spaces a variable or access can name.</summary>
public enum PtxStateSpace
{
    Generic,
    Global,
    Shared,
    Local,
    Param,
    Const,
    Reg,
}

/// <summary>
/// A variable declaration: <c>.shared .align 4 .b8 name[128];</c>, <c>.extern .shared .align 16 .b8 sp[];</c>
/// (dynamic shared memory: <see cref="IsUnsized"/>), <c>.global .align 4 .b8 t[24] = {…};</c> or a kernel
/// parameter <c>.param .align 8 .b8 p[16]</c>. <see cref="ByteSize"/> is element size × count.
/// </summary>
public sealed record PtxVariableSyntax(PtxStateSpace Space, string Name, string ElementType, int ElementBytes, int Count,
    int Align, bool IsUnsized, byte[]? Initializer, int Line)
{
    public int ByteSize => ElementBytes * Count;
}

/// <summary>One kernel: its parameters in order, performance directives and body statements.</summary>
public sealed record PtxEntrySyntax(string Name, IReadOnlyList<PtxVariableSyntax> Parameters, IReadOnlyList<PtxStatement> Body,
    int MaxThreads, int Line);

/// <summary>A statement of a function body.</summary>
public abstract record PtxStatement(int Line);

/// <summary><c>.reg .b32 %r&lt;N&gt;;</c> (Count = N names %r0..%r{N-1}) or <c>.reg .b64 %SP;</c> (Count = 0: the name alone).</summary>
public sealed record PtxRegisterDeclaration(string Type, string Name, int Count, int Line) : PtxStatement(Line);

/// <summary>A function-scope <c>.shared</c> or <c>.local</c> variable.</summary>
public sealed record PtxLocalVariable(PtxVariableSyntax Variable) : PtxStatement(Variable.Line);

public sealed record PtxLabel(string Name, int Line) : PtxStatement(Line);

/// <summary>
/// An instruction: optional guard (<c>@%p</c> / <c>@!%p</c>), the opcode split at its dots
/// (<c>ld.global.nc.v4.f32</c> → <c>ld</c> + [global, nc, v4, f32]) and the operands as written.
/// </summary>
public sealed record PtxInstructionSyntax(string? Guard, bool GuardNegated, string Opcode, IReadOnlyList<string> Modifiers,
    IReadOnlyList<PtxOperand> Operands, string Text, int Line) : PtxStatement(Line)
{
    public bool Has(string modifier) => Modifiers.Contains(modifier);
}

public enum PtxOperandKind
{
    /// <summary><c>%r1</c>, <c>%tid.x</c>; <see cref="PtxOperand.Negated"/> for <c>!%p</c>.</summary>
    Register,

    /// <summary>An integer literal (decimal, hex, octal, with an optional sign) in <see cref="PtxOperand.Bits"/>.</summary>
    Integer,

    /// <summary><c>0fXXXXXXXX</c> (f32 bits) or <c>0dXXXXXXXXXXXXXXXX</c> (f64 bits) in <see cref="PtxOperand.Bits"/>.</summary>
    Float32,
    Float64,

    /// <summary>A variable, label or function name, with an optional <c>+offset</c>.</summary>
    Symbol,

    /// <summary><c>[base]</c>, <c>[base+off]</c>: base is a register or a symbol (<see cref="PtxOperand.Name"/>).</summary>
    Address,

    /// <summary><c>{a, b, c, d}</c>: <see cref="PtxOperand.Elements"/>.</summary>
    Vector,

    /// <summary><c>%r|%p</c>: two destinations (shfl, setp).</summary>
    Pair,

    /// <summary><c>_</c>: a sink destination.</summary>
    Sink,
}

public sealed record PtxOperand(PtxOperandKind Kind, string Name = "", long Bits = 0, long Offset = 0, bool Negated = false,
    IReadOnlyList<PtxOperand>? Elements = null)
{
    /// <summary>For <see cref="PtxOperandKind.Address"/>: true when the base is a register, false for a symbol.</summary>
    public bool IsRegisterBase => Kind == PtxOperandKind.Address && Name.StartsWith('%');

    public override string ToString() => Kind switch
    {
        PtxOperandKind.Register => (Negated ? "!" : "") + Name,
        PtxOperandKind.Integer => Bits.ToString(System.Globalization.CultureInfo.InvariantCulture),
        PtxOperandKind.Float32 => $"0f{Bits:X8}",
        PtxOperandKind.Float64 => $"0d{Bits:X16}",
        PtxOperandKind.Symbol => Offset == 0 ? Name : $"{Name}+{Offset}",
        PtxOperandKind.Address => Offset == 0 ? $"[{Name}]" : $"[{Name}+{Offset}]",
        PtxOperandKind.Vector => "{" + string.Join(", ", Elements!) + "}",
        PtxOperandKind.Pair => $"{Elements![0]}|{Elements[1]}",
        _ => "_",
    };
}
