using Qwen3Next.Ops.Basic;

namespace Qwen3Next.Backends;

/// <summary>What one key or value of a KV cache pool is stored as. The exact precision keeps fp32; the fast precision
/// (on the ptx backend) keeps bf16, rounded to nearest even when written, as the peers do: half the bytes to store and
/// half the cache reads per decode step. The math reading it is fp32 either way.</summary>
public enum KvElement
{
    Float32,
    BFloat16,
}

/// <summary>Sizes and host read-back of a pool of <see cref="KvElement"/>s. Tensors are sized in floats, so a bf16 pool
/// packs two elements per float word (element 2i in the low half, as the kernels address raw bf16 bits).</summary>
public static class KvElements
{
    public static int Bytes(this KvElement element) => element == KvElement.BFloat16 ? sizeof(ushort) : sizeof(float);

    /// <summary>Float words a pool of <paramref name="elements"/> takes.</summary>
    public static long Words(this KvElement element, long elements) => element == KvElement.BFloat16 ? (elements + 1) / 2 : elements;

    /// <summary>The first <paramref name="elements"/> elements of a pool as floats (bf16 widens exactly).</summary>
    public static float[] Download(IKernelBackend backend, DeviceTensor pool, KvElement element, long elements)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentOutOfRangeException.ThrowIfNegative(elements);
        var words = new float[element.Words(elements)];
        backend.Download(pool, words);
        if (element == KvElement.Float32)
        {
            return words;
        }

        var values = new float[elements];
        for (long i = 0; i < elements; i++)
        {
            uint word = BitConverter.SingleToUInt32Bits(words[i / 2]);
            uint bits = i % 2 == 0 ? word << 16 : word & 0xffff0000u;
            values[i] = BitConverter.UInt32BitsToSingle(bits);
        }

        return values;
    }

    /// <summary>A pool holding <paramref name="values"/> as <paramref name="element"/>s (bf16: rounded to nearest even).</summary>
    public static DeviceTensor Upload(IKernelBackend backend, ReadOnlySpan<float> values, KvElement element)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (element == KvElement.Float32)
        {
            return backend.Upload(values);
        }

        var words = new float[element.Words(values.Length)];
        for (int i = 0; i < values.Length; i++)
        {
            uint bits = Bf16.FromFloat(values[i]);
            uint word = BitConverter.SingleToUInt32Bits(words[i / 2]) | (i % 2 == 0 ? bits : bits << 16);
            words[i / 2] = BitConverter.UInt32BitsToSingle(word);
        }

        return backend.Upload(words);
    }
}
