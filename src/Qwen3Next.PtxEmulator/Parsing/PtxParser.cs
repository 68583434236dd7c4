using System.Globalization;

namespace Qwen3Next.PtxEmulator.Parsing;

/// <summary>
/// Recursive-descent parser for the PTX this project ships (nvcc 11.8 and ILGPU 1.5 output, PTX ISA 7.8/8.x):
/// module directives, module-scope variables with initialisers, <c>.entry</c> kernels with their parameters,
/// performance directives, register and variable declarations, labels and instructions. A directive it does not
/// know raises <see cref="UnsupportedPtxException"/> with its line; nothing is skipped silently except debug
/// line information (<c>.file</c>, <c>.loc</c>) and <c>.pragma</c> hints, which do not change semantics.
/// </summary>
public sealed class PtxParser
{
    private readonly string module;
    private readonly List<Token> tokens;

    // Register names per nested block of the kernel body being parsed, innermost last: a register declared in an
    // inner { } block (inline asm declares ".reg .pred p;" in each of its blocks) shadows outer ones and is renamed
    // to a kernel-unique name, so the decoder sees one flat namespace. Names map to themselves in the outer block.
    private readonly List<Dictionary<string, string>> scopes = [];
    private int scopeSerial;
    private int pos;

    private PtxParser(string module, string text)
    {
        this.module = module;
        tokens = PtxLexer.Tokenize(text, module);
    }

    public static PtxModuleSyntax Parse(string text, string moduleName)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new PtxParser(moduleName, text).ParseModule();
    }

    private Token Peek => tokens[pos];

    private Token Next() => tokens[pos++];

    private PtxSyntaxException Error(string message, Token? at = null) => new(module, (at ?? Peek).Line, message);

    private void Expect(char c)
    {
        if (!Peek.Is(c))
        {
            throw Error($"expected '{c}' but found '{Peek.Text}'");
        }

        pos++;
    }

    private bool Accept(char c)
    {
        if (Peek.Is(c))
        {
            pos++;
            return true;
        }

        return false;
    }

    private string ExpectWord(string what)
    {
        var t = Next();
        return t.Kind == TokenKind.Word ? t.Text : throw Error($"expected {what} but found '{t.Text}'", t);
    }

    private long ExpectInteger(string what)
    {
        bool negative = Accept('-');
        var t = Next();
        if (t.Kind != TokenKind.Number || !TryInteger(t.Text, out long value))
        {
            throw Error($"expected {what} but found '{t.Text}'", t);
        }

        return negative ? -value : value;
    }

    private PtxModuleSyntax ParseModule()
    {
        string version = "", target = "";
        int addressSize = 64;
        var variables = new List<PtxVariableSyntax>();
        var entries = new List<PtxEntrySyntax>();
        while (Peek.Kind != TokenKind.End)
        {
            var t = Next();
            switch (t.Text)
            {
                case ".version":
                    version = Next().Text;
                    break;
                case ".target":
                    target = ExpectWord("a target");
                    while (Accept(','))
                    {
                        ExpectWord("a target option");
                    }

                    break;
                case ".address_size":
                    addressSize = (int)ExpectInteger("an address size");
                    if (addressSize != 64)
                    {
                        throw new UnsupportedPtxException(module, t.Line, "directive", $".address_size {addressSize} (only 64 is supported)");
                    }

                    break;
                case ".file":
                case ".loc":
                    SkipToLineEnd(t.Line);
                    break;
                case ".visible":
                case ".weak":
                case ".extern":
                    ParseLinked(t, variables, entries);
                    break;
                case ".entry":
                    entries.Add(ParseEntry(t));
                    break;
                case ".global":
                case ".shared":
                case ".const":
                    variables.Add(ParseVariable(t, t.Text, isExtern: false));
                    Expect(';');
                    break;
                case ".func":
                    throw new UnsupportedPtxException(module, t.Line, "directive", ".func (device functions are not supported; kernels must inline them)");
                default:
                    throw new UnsupportedPtxException(module, t.Line, "directive", t.Text);
            }
        }

        return new PtxModuleSyntax(module, version, target, addressSize, variables, entries);
    }

    private void SkipToLineEnd(int line)
    {
        while (Peek.Kind != TokenKind.End && Peek.Line == line)
        {
            pos++;
        }
    }

    private void ParseLinked(Token linkage, List<PtxVariableSyntax> variables, List<PtxEntrySyntax> entries)
    {
        var t = Next();
        switch (t.Text)
        {
            case ".entry":
                entries.Add(ParseEntry(t));
                break;
            case ".global":
            case ".shared":
            case ".const":
                variables.Add(ParseVariable(t, t.Text, isExtern: linkage.Text == ".extern"));
                Expect(';');
                break;
            case ".func":
                throw new UnsupportedPtxException(module, t.Line, "directive", ".func (device functions are not supported; kernels must inline them)");
            default:
                throw new UnsupportedPtxException(module, t.Line, "directive", $"{linkage.Text} {t.Text}");
        }
    }

    private static PtxStateSpace SpaceOf(string directive) => directive switch
    {
        ".global" => PtxStateSpace.Global,
        ".shared" => PtxStateSpace.Shared,
        ".local" => PtxStateSpace.Local,
        ".param" => PtxStateSpace.Param,
        ".const" => PtxStateSpace.Const,
        _ => PtxStateSpace.Generic,
    };

    /// <summary>After the state-space directive: [.ptr .space] [.align N] [.vN] .type name [[N]] [= init].</summary>
    private PtxVariableSyntax ParseVariable(Token start, string spaceDirective, bool isExtern)
    {
        int align = 0, vector = 1;
        string? type = null;
        while (Peek.Kind == TokenKind.Word && Peek.Text.StartsWith('.'))
        {
            var d = Next().Text;
            if (d == ".align")
            {
                align = (int)ExpectInteger("an alignment");
            }
            else if (d is ".v2" or ".v4" or ".v8")
            {
                vector = d[2] - '0';
            }
            else if (d is ".ptr" or ".global" or ".shared" or ".local" or ".const")
            {
                // Pointer attributes of a parameter: no effect on its bytes.
            }
            else if (TypeBytes(d) > 0)
            {
                type = d;
            }
            else
            {
                throw new UnsupportedPtxException(module, start.Line, "variable qualifier", d);
            }
        }

        if (type is null)
        {
            throw Error("variable without a type", start);
        }

        string name = ExpectWord("a variable name");
        int count = 1;
        bool unsized = false;
        if (Accept('['))
        {
            if (Accept(']'))
            {
                unsized = true;
                count = 0;
            }
            else
            {
                count = checked((int)ExpectInteger("an array size"));
                Expect(']');
            }
        }

        int elementBytes = TypeBytes(type) * vector;
        byte[]? init = null;
        if (Accept('='))
        {
            init = ParseInitializer(type, elementBytes, count, start);
        }

        if (align == 0)
        {
            align = elementBytes;
        }

        return new PtxVariableSyntax(SpaceOf(spaceDirective), name, type, elementBytes, count, align, unsized || (isExtern && count == 0),
            init, start.Line);
    }

    private byte[] ParseInitializer(string type, int elementBytes, int count, Token start)
    {
        var bytes = new byte[elementBytes * count];
        bool braced = Accept('{');
        int index = 0;
        do
        {
            if (braced && Peek.Is('}'))
            {
                break;
            }

            long value = ExpectInteger("an initialiser value");
            if (index >= count)
            {
                throw Error($"more initialisers than the {count} elements declared", start);
            }

            for (int b = 0; b < elementBytes; b++)
            {
                bytes[(index * elementBytes) + b] = (byte)(value >> (8 * b));
            }

            index++;
        }
        while (braced && Accept(','));

        if (braced)
        {
            Expect('}');
        }

        _ = type;
        return bytes;
    }

    /// <summary>Size in bytes of a PTX fundamental type, 0 when <paramref name="directive"/> is not one.</summary>
    public static int TypeBytes(string directive) => directive switch
    {
        ".b8" or ".u8" or ".s8" => 1,
        ".b16" or ".u16" or ".s16" or ".f16" or ".bf16" => 2,
        ".b32" or ".u32" or ".s32" or ".f32" or ".f16x2" or ".bf16x2" => 4,
        ".b64" or ".u64" or ".s64" or ".f64" => 8,
        ".pred" => 1,
        _ => 0,
    };

    private PtxEntrySyntax ParseEntry(Token start)
    {
        string name = ExpectWord("a kernel name");
        var parameters = new List<PtxVariableSyntax>();
        Expect('(');
        if (!Peek.Is(')'))
        {
            do
            {
                var p = Next();
                if (p.Text != ".param")
                {
                    throw Error($"expected .param but found '{p.Text}'", p);
                }

                parameters.Add(ParseVariable(p, ".param", isExtern: false));
            }
            while (Accept(','));
        }

        Expect(')');
        int maxThreads = 0;
        while (Peek.Kind == TokenKind.Word && Peek.Text.StartsWith('.'))
        {
            var d = Next();
            switch (d.Text)
            {
                case ".maxntid":
                case ".reqntid":
                    long threads = ExpectInteger("a thread count");
                    while (Accept(','))
                    {
                        threads *= ExpectInteger("a thread count");
                    }

                    maxThreads = checked((int)threads);
                    break;
                case ".minnctapersm":
                case ".maxnreg":
                case ".maxnctapersm":
                    ExpectInteger("a count");
                    break;
                case ".pragma":
                    Next();
                    Accept(';');
                    break;
                default:
                    throw new UnsupportedPtxException(module, d.Line, "performance directive", d.Text);
            }
        }

        Expect('{');
        var body = new List<PtxStatement>();
        scopes.Clear();
        scopes.Add(new Dictionary<string, string>(StringComparer.Ordinal));
        while (scopes.Count > 0)
        {
            var t = Peek;
            if (t.Kind == TokenKind.End)
            {
                throw Error($"kernel {name} is not closed by '}}'", start);
            }

            if (t.Is('{'))
            {
                pos++;
                scopes.Add(new Dictionary<string, string>(StringComparer.Ordinal));
            }
            else if (t.Is('}'))
            {
                pos++;
                scopes.RemoveAt(scopes.Count - 1);
            }
            else
            {
                ParseStatement(body);
            }
        }

        return new PtxEntrySyntax(name, parameters, body, maxThreads, start.Line);
    }

    private void ParseStatement(List<PtxStatement> body)
    {
        var t = Peek;
        if (t.Kind == TokenKind.Word && t.Text.StartsWith('.'))
        {
            pos++;
            switch (t.Text)
            {
                case ".reg":
                    ParseRegisters(t, body);
                    return;
                case ".shared":
                case ".local":
                    body.Add(new PtxLocalVariable(ParseVariable(t, t.Text, isExtern: false)));
                    Expect(';');
                    return;
                case ".pragma":
                    Next();
                    Expect(';');
                    return;
                case ".loc":
                    SkipToLineEnd(t.Line);
                    return;
                default:
                    throw new UnsupportedPtxException(module, t.Line, "directive", t.Text);
            }
        }

        if (t.Kind == TokenKind.Word && tokens[pos + 1].Is(':'))
        {
            pos += 2;
            body.Add(new PtxLabel(t.Text, t.Line));
            return;
        }

        body.Add(ParseInstruction());
    }

    private void ParseRegisters(Token start, List<PtxStatement> body)
    {
        string type = ExpectWord("a register type");
        if (type is ".v2" or ".v4")
        {
            throw new UnsupportedPtxException(module, start.Line, "register declaration", $".reg {type}");
        }

        do
        {
            string name = ExpectWord("a register name");
            int count = 0;
            if (Accept('<'))
            {
                count = checked((int)ExpectInteger("a register count"));
                Expect('>');
            }

            var scope = scopes[^1];
            string declared = scopes.Count == 1 ? name : $"{name}${++scopeSerial}$";
            if (count == 0)
            {
                scope[name] = declared;
            }
            else
            {
                for (int i = 0; i < count; i++)
                {
                    scope[name + i.ToString(CultureInfo.InvariantCulture)] = declared + i.ToString(CultureInfo.InvariantCulture);
                }
            }

            body.Add(new PtxRegisterDeclaration(type, declared, count, start.Line));
        }
        while (Accept(','));

        Expect(';');
    }

    private PtxInstructionSyntax ParseInstruction()
    {
        int first = pos;
        var start = Peek;
        string? guard = null;
        bool negated = false;
        if (Accept('@'))
        {
            negated = Accept('!');
            string predicate = ExpectWord("a guard predicate");
            guard = Resolve(predicate) ?? predicate;
        }

        var opToken = Next();
        if (opToken.Kind != TokenKind.Word)
        {
            throw Error($"expected an instruction but found '{opToken.Text}'", opToken);
        }

        var parts = opToken.Text.Split('.');
        var operands = new List<PtxOperand>();
        if (!Peek.Is(';'))
        {
            do
            {
                operands.Add(ParseOperand());
            }
            while (Accept(','));
        }

        Expect(';');
        string text = string.Join(' ', tokens.Skip(first).Take(pos - first - 1).Select(x => x.Text));
        return new PtxInstructionSyntax(guard, negated, parts[0], parts[1..], operands, text, start.Line);
    }

    private PtxOperand ParseOperand()
    {
        if (Accept('['))
        {
            var baseToken = Next();
            string baseName;
            long offset = 0;
            if (baseToken.Kind == TokenKind.Word)
            {
                baseName = Resolve(baseToken.Text) ?? baseToken.Text;
            }
            else if (baseToken.Kind == TokenKind.Number && TryInteger(baseToken.Text, out long absolute))
            {
                baseName = "";
                offset = absolute;
            }
            else
            {
                throw Error($"bad address '{baseToken.Text}'", baseToken);
            }

            if (Accept('+'))
            {
                offset += ExpectInteger("an address offset");
            }
            else if (Peek.Is('-'))
            {
                offset += ExpectInteger("an address offset");
            }

            Expect(']');
            return new PtxOperand(PtxOperandKind.Address, baseName, Offset: offset);
        }

        if (Accept('{'))
        {
            var elements = new List<PtxOperand>();
            do
            {
                elements.Add(ParseOperand());
            }
            while (Accept(','));

            Expect('}');
            return new PtxOperand(PtxOperandKind.Vector, Elements: elements);
        }

        if (Accept('!'))
        {
            string predicate = ExpectWord("a predicate");
            return new PtxOperand(PtxOperandKind.Register, Resolve(predicate) ?? predicate, Negated: true);
        }

        bool negative = Accept('-');
        var t = Next();
        if (t.Kind == TokenKind.Number)
        {
            return Number(t, negative);
        }

        if (t.Kind != TokenKind.Word || negative)
        {
            throw Error($"bad operand '{t.Text}'", t);
        }

        if (t.Text == "_")
        {
            return new PtxOperand(PtxOperandKind.Sink);
        }

        if (t.Text.StartsWith('%') || Resolve(t.Text) is not null)
        {
            var reg = new PtxOperand(PtxOperandKind.Register, Resolve(t.Text) ?? t.Text);
            if (Accept('|'))
            {
                var second = ParseOperand();
                return new PtxOperand(PtxOperandKind.Pair, Elements: [reg, second]);
            }

            return reg;
        }

        long symbolOffset = 0;
        if (Accept('+'))
        {
            symbolOffset = ExpectInteger("a symbol offset");
        }

        return new PtxOperand(PtxOperandKind.Symbol, t.Text, Offset: symbolOffset);
    }

    /// <summary>The declared (possibly renamed) register <paramref name="name"/> refers to in the current block, or null
    /// when no enclosing block declares it (an undeclared %name is then a special register or an error later).</summary>
    private string? Resolve(string name)
    {
        for (int i = scopes.Count - 1; i >= 0; i--)
        {
            if (scopes[i].TryGetValue(name, out var declared))
            {
                return declared;
            }
        }

        return null;
    }

    private PtxOperand Number(Token t, bool negative)
    {
        string s = t.Text;
        if (s.Length > 2 && s[0] == '0' && (s[1] is 'f' or 'F'))
        {
            uint bits = uint.Parse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            return new PtxOperand(PtxOperandKind.Float32, Bits: negative ? bits ^ 0x8000_0000u : bits);
        }

        if (s.Length > 2 && s[0] == '0' && (s[1] is 'd' or 'D'))
        {
            ulong bits = ulong.Parse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            return new PtxOperand(PtxOperandKind.Float64, Bits: (long)(negative ? bits ^ 0x8000_0000_0000_0000ul : bits));
        }

        if (TryInteger(s, out long value))
        {
            return new PtxOperand(PtxOperandKind.Integer, Bits: negative ? -value : value);
        }

        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
        {
            return new PtxOperand(PtxOperandKind.Float64, Bits: BitConverter.DoubleToInt64Bits(negative ? -d : d));
        }

        throw Error($"bad number '{s}'", t);
    }

    /// <summary>PTX integer literals: decimal, <c>0x</c> hex, <c>0b</c> binary, leading-zero octal, optional <c>U</c>.</summary>
    internal static bool TryInteger(string s, out long value)
    {
        value = 0;
        if (s.EndsWith('U') || s.EndsWith('u'))
        {
            s = s[..^1];
        }

        if (s.Length == 0)
        {
            return false;
        }

        try
        {
            if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            {
                value = (long)ulong.Parse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                return true;
            }

            if (s.StartsWith("0b", StringComparison.OrdinalIgnoreCase))
            {
                value = (long)Convert.ToUInt64(s[2..], 2);
                return true;
            }

            if (s.Length > 1 && s[0] == '0' && s.All(char.IsAsciiDigit))
            {
                value = (long)Convert.ToUInt64(s[1..], 8);
                return true;
            }

            if (s.All(char.IsAsciiDigit))
            {
                value = (long)ulong.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture);
                return true;
            }
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            return false;
        }

        return false;
    }
}
