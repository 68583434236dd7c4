namespace Qwen3Next.PtxEmulator.Parsing;

internal enum TokenKind
{
    /// <summary>Identifiers, opcodes with their dotted modifiers, directives (<c>.reg</c>), registers (<c>%r1</c>, <c>%tid.x</c>), labels.</summary>
    Word,

    /// <summary>An unsigned numeric literal as written (<c>12</c>, <c>0x1f</c>, <c>0f3F800000</c>).</summary>
    Number,

    /// <summary>A quoted string (<c>.pragma "nounroll"</c>).</summary>
    String,

    /// <summary>One punctuation character: <c>, ; : [ ] { } ( ) &lt; &gt; + - | ! @ =</c>.</summary>
    Punct,
    End,
}

internal readonly record struct Token(TokenKind Kind, string Text, int Line)
{
    public bool Is(char c) => Kind == TokenKind.Punct && Text[0] == c;

    public bool IsWord(string w) => Kind == TokenKind.Word && Text == w;
}

/// <summary>Splits PTX text into tokens, dropping <c>//</c> and <c>/* */</c> comments; every token keeps its line.</summary>
internal static class PtxLexer
{
    public static List<Token> Tokenize(string text, string moduleName)
    {
        var tokens = new List<Token>(text.Length / 4);
        int line = 1, i = 0, n = text.Length;
        while (i < n)
        {
            char c = text[i];
            if (c == '\n')
            {
                line++;
                i++;
            }
            else if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '/' && i + 1 < n && text[i + 1] == '/')
            {
                while (i < n && text[i] != '\n')
                {
                    i++;
                }
            }
            else if (c == '/' && i + 1 < n && text[i + 1] == '*')
            {
                int end = text.IndexOf("*/", i + 2, StringComparison.Ordinal);
                if (end < 0)
                {
                    throw new PtxSyntaxException(moduleName, line, "unterminated /* comment");
                }

                for (int k = i; k < end; k++)
                {
                    if (text[k] == '\n')
                    {
                        line++;
                    }
                }

                i = end + 2;
            }
            else if (c == '"')
            {
                int end = text.IndexOf('"', i + 1);
                if (end < 0)
                {
                    throw new PtxSyntaxException(moduleName, line, "unterminated string");
                }

                tokens.Add(new Token(TokenKind.String, text[(i + 1)..end], line));
                i = end + 1;
            }
            else if (char.IsAsciiDigit(c))
            {
                int start = i;
                while (i < n && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '.'))
                {
                    i++;
                }

                tokens.Add(new Token(TokenKind.Number, text[start..i], line));
            }
            else if (IsWordStart(c))
            {
                int start = i;
                while (i < n && IsWordPart(text[i]))
                {
                    i++;
                }

                tokens.Add(new Token(TokenKind.Word, text[start..i], line));
            }
            else if (",;:[]{}()<>+-|!@=".Contains(c))
            {
                tokens.Add(new Token(TokenKind.Punct, c.ToString(), line));
                i++;
            }
            else
            {
                throw new PtxSyntaxException(moduleName, line, $"unexpected character '{c}'");
            }
        }

        tokens.Add(new Token(TokenKind.End, "", line));
        return tokens;
    }

    private static bool IsWordStart(char c) => char.IsAsciiLetter(c) || c is '_' or '$' or '%' or '.';

    private static bool IsWordPart(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '$' or '%' or '.';
}
