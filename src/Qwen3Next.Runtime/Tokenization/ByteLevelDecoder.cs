using System.Text;

namespace Qwen3Next.Tokenization;

/// <summary>
/// GPT-2's byte-level alphabet backwards: each vocabulary character stands for one byte (printable Latin-1 bytes for
/// themselves, the other 68 bytes for U+0100 upwards), and the bytes of a run of tokens are UTF-8, decoded the way
/// HF's ByteLevel decoder does (invalid sequences become U+FFFD, as Rust's <c>from_utf8_lossy</c> does).
/// </summary>
internal static class ByteLevelDecoder
{
    private static readonly Dictionary<char, byte> ByteOfChar = BuildAlphabet();

    /// <summary>Appends the bytes a vocabulary token stands for; false when a character is not in the alphabet.</summary>
    public static bool TryAppendBytes(string token, List<byte> bytes)
    {
        foreach (char c in token)
        {
            if (!ByteOfChar.TryGetValue(c, out byte b))
            {
                return false;
            }

            bytes.Add(b);
        }

        return true;
    }

    public static string Utf8(List<byte> bytes) => Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));

    private static Dictionary<char, byte> BuildAlphabet()
    {
        var map = new Dictionary<char, byte>(256);
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[printable ? (char)b : (char)next++] = (byte)b;
        }

        return map;
    }
}
