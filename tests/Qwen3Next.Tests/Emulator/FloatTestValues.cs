namespace Qwen3Next.Tests.Emulator;

/// <summary>
/// Operands for the float instruction tests: every pair of special values (±0, ±subnormals, ±min normal, ±1,
/// ±max, ±∞, NaN), and seeded random operands that exercise rounding: random bit patterns, near-cancellations,
/// sums and products at the overflow and underflow thresholds, and exact ties.
/// </summary>
internal static class FloatTestValues
{
    public static readonly float[] Specials =
    [
        0f, -0f, float.Epsilon, -float.Epsilon, BitConverter.UInt32BitsToSingle(0x007F_FFFF), -BitConverter.UInt32BitsToSingle(0x0040_0001),
        BitConverter.UInt32BitsToSingle(0x0080_0000), -BitConverter.UInt32BitsToSingle(0x0080_0000), 1f, -1f, 1.5f, 3f, 1f / 3f,
        float.MaxValue, -float.MaxValue, BitConverter.UInt32BitsToSingle(0x7F00_0001), float.PositiveInfinity, float.NegativeInfinity, float.NaN,
    ];

    /// <summary>A float with a random significand and sign, exponent in [minExp, maxExp].</summary>
    public static float Random(Random rng, int minExp, int maxExp)
    {
        int exponent = rng.Next(minExp, maxExp + 1);
        float significand = 1f + (float)rng.NextDouble();
        float value = MathF.ScaleB(significand, exponent);
        return rng.Next(2) == 0 ? value : -value;
    }

    public static float RandomBits(Random rng)
    {
        while (true)
        {
            float f = BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32));
            if (!float.IsNaN(f))
            {
                return f;
            }
        }
    }

    public static List<(float A, float B)> Pairs(int seed, int randomCount)
    {
        var rng = new Random(seed);
        var pairs = new List<(float, float)>();
        foreach (float a in Specials)
        {
            foreach (float b in Specials)
            {
                pairs.Add((a, b));
            }
        }

        for (int i = 0; i < randomCount; i++)
        {
            float a = Random(rng, -30, 30);
            pairs.Add((i % 6) switch
            {
                0 => (RandomBits(rng), RandomBits(rng)),
                1 => (a, Random(rng, -30, 30)),
                2 => (a, -a * (1f + (MathF.ScaleB(1f, -rng.Next(1, 24)) * (rng.Next(2) == 0 ? 1 : -1)))), // cancellation
                3 => (Random(rng, 120, 127), Random(rng, 120, 127)),                                       // overflow region
                4 => (Random(rng, -149, -120), Random(rng, -149, -100)),                                   // subnormal region
                _ => (a, MathF.ScaleB(a, -rng.Next(20, 30))),                                                // ties and near-ties
            });
        }

        return pairs;
    }

    public static List<(float A, float B, float C)> Triples(int seed, int randomCount)
    {
        var rng = new Random(seed);
        var triples = new List<(float, float, float)>();
        float[] some = [0f, -0f, float.Epsilon, 1f, -1f, float.MaxValue, float.PositiveInfinity, float.NaN];
        foreach (float a in Specials)
        {
            foreach (float b in some)
            {
                foreach (float c in some)
                {
                    triples.Add((a, b, c));
                }
            }
        }

        for (int i = 0; i < randomCount; i++)
        {
            float a = Random(rng, -20, 20), b = Random(rng, -20, 20);
            float product = a * b;
            triples.Add((i % 6) switch
            {
                0 => (RandomBits(rng), RandomBits(rng), RandomBits(rng)),
                1 => (a, b, Random(rng, -40, 40)),
                2 => (a, b, -product),                                            // the exact rounding error of a·b
                3 => (a, b, -MathF.BitIncrement(product)),                        // a tiny residue of either sign
                4 => (Random(rng, 60, 64), Random(rng, 60, 64), -Random(rng, 126, 127)), // overflow region
                _ => (Random(rng, -80, -70), Random(rng, -80, -60), Random(rng, -149, -125)), // underflow region
            });
        }

        return triples;
    }
}
