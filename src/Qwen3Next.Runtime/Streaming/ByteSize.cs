using System.Globalization;

namespace Qwen3Next.Streaming;

/// <summary>Parses and prints sizes such as <c>80GiB</c>, <c>512MB</c>, <c>1.5G</c> (binary units for G/M/K without "B").</summary>
public static class ByteSize
{
    public static long Parse(string text)
    {
        string s = text.Trim();
        int split = 0;
        while (split < s.Length && (char.IsDigit(s[split]) || s[split] == '.'))
        {
            split++;
        }

        if (split == 0 || !double.TryParse(s[..split], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value < 0)
        {
            throw new FormatException($"'{text}' is not a size (examples: 80GiB, 512MiB, 2G, 1000000000).");
        }

        double unit = s[split..].Trim().ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KIB" => 1L << 10,
            "KB" => 1e3,
            "M" or "MIB" => 1L << 20,
            "MB" => 1e6,
            "G" or "GIB" => 1L << 30,
            "GB" => 1e9,
            "T" or "TIB" => 1L << 40,
            "TB" => 1e12,
            var u => throw new FormatException($"'{text}': unknown unit '{u}' (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)."),
        };
        // 2^63 bytes (8 EiB) is not a budget any machine has, and beyond it the cast to long would overflow.
        double bytes = value * unit;
        if (!double.IsFinite(bytes) || bytes >= 9.2e18)
        {
            throw new FormatException($"'{text}' is larger than any device memory (at most 8 EiB).");
        }

        return (long)bytes;
    }

    public static string Format(double bytes) => bytes switch
    {
        >= 1L << 40 => $"{bytes / (1L << 40):F2} TiB",
        >= 1L << 30 => $"{bytes / (1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (1L << 20):F2} MiB",
        >= 1L << 10 => $"{bytes / (1L << 10):F2} KiB",
        _ => $"{bytes:F0} B",
    };
}
