using NUnit.Framework;

namespace Qwen3Next.Tests.Emulator;

/// <summary>Bit-exact comparison of float results (any NaN matches any NaN), reporting the first mismatches with their inputs.</summary>
internal static class FloatComparison
{
    public static string Hex(float x) => $"{x:R} (0x{BitConverter.SingleToUInt32Bits(x):X8})";

    public static string Hex(double x) => $"{x:R} (0x{BitConverter.DoubleToInt64Bits(x):X16})";

    public static void AssertBits32(string what, IReadOnlyList<string> inputs, IReadOnlyList<uint> expected, IReadOnlyList<ulong> actual)
    {
        var failures = new List<string>();
        for (int i = 0; i < expected.Count; i++)
        {
            uint e = expected[i], a = (uint)actual[i];
            bool bothNaN = float.IsNaN(BitConverter.UInt32BitsToSingle(e)) && float.IsNaN(BitConverter.UInt32BitsToSingle(a));
            if (e != a && !bothNaN)
            {
                failures.Add($"{what}({inputs[i]}): expected {Hex(BitConverter.UInt32BitsToSingle(e))}, got {Hex(BitConverter.UInt32BitsToSingle(a))}");
            }
        }

        Assert.That(failures, Is.Empty, $"{failures.Count} of {expected.Count} cases differ:{Environment.NewLine}" + string.Join(Environment.NewLine, failures.Take(12)));
    }

    public static void AssertBits64(string what, IReadOnlyList<string> inputs, IReadOnlyList<ulong> expected, IReadOnlyList<ulong> actual)
    {
        var failures = new List<string>();
        for (int i = 0; i < expected.Count; i++)
        {
            ulong e = expected[i], a = actual[i];
            bool bothNaN = double.IsNaN(BitConverter.UInt64BitsToDouble(e)) && double.IsNaN(BitConverter.UInt64BitsToDouble(a));
            if (e != a && !bothNaN)
            {
                failures.Add($"{what}({inputs[i]}): expected {Hex(BitConverter.UInt64BitsToDouble(e))}, got {Hex(BitConverter.UInt64BitsToDouble(a))}");
            }
        }

        Assert.That(failures, Is.Empty, $"{failures.Count} of {expected.Count} cases differ:{Environment.NewLine}" + string.Join(Environment.NewLine, failures.Take(12)));
    }

    /// <summary>Integer results (as the low bits of each value).</summary>
    public static void AssertIntegers(string what, IReadOnlyList<string> inputs, IReadOnlyList<ulong> expected, IReadOnlyList<ulong> actual)
    {
        var failures = new List<string>();
        for (int i = 0; i < expected.Count; i++)
        {
            if (expected[i] != actual[i])
            {
                failures.Add($"{what}({inputs[i]}): expected 0x{expected[i]:X}, got 0x{actual[i]:X}");
            }
        }

        Assert.That(failures, Is.Empty, $"{failures.Count} of {expected.Count} cases differ:{Environment.NewLine}" + string.Join(Environment.NewLine, failures.Take(12)));
    }

    public static string Modifier(RoundingMode mode) => mode switch
    {
        RoundingMode.Nearest => "rn",
        RoundingMode.Zero => "rz",
        RoundingMode.Down => "rm",
        _ => "rp",
    };
}
