using System.Runtime.InteropServices;
using Qwen3Next.PtxEmulator;
using Qwen3Next.PtxEmulator.Execution;
using Qwen3Next.PtxEmulator.Memory;

namespace Qwen3Next.Tests.Emulator;

/// <summary>Hand-written PTX for the emulator tests: a module header, buffers on an <see cref="EmulatedGpu"/>, and
/// launches with packed parameters.</summary>
internal static class PtxTestKernels
{
    public const string Header = ".version 7.8\n.target sm_90\n.address_size 64\n\n";

    /// <summary>A device buffer holding <paramref name="values"/> (written, so initialised).</summary>
    public static MemoryRegion Upload<T>(EmulatedGpu gpu, ReadOnlySpan<T> values, string name)
        where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values);
        var region = gpu.Memory.Allocate(Math.Max(1, bytes.Length), name);
        gpu.Memory.Write(region.Start, bytes, name);
        return region;
    }

    public static T[] Download<T>(EmulatedGpu gpu, MemoryRegion region, int count)
        where T : unmanaged
    {
        var result = new T[count];
        gpu.Memory.Read(region.Start, MemoryMarshal.AsBytes(result.AsSpan()), region.Name);
        return result;
    }

    /// <summary>Loads <paramref name="ptx"/> and launches its only kernel with 8-byte pointers / 4-byte integers as given.</summary>
    public static LaunchResult Launch(EmulatedGpu gpu, string ptx, LaunchGeometry geometry, params object[] arguments)
    {
        var module = gpu.LoadModule(ptx, "test.ptx");
        var kernel = module.GetKernel(module.KernelNames.Single());
        var packer = new KernelParameterPacker(kernel);
        for (int i = 0; i < arguments.Length; i++)
        {
            switch (arguments[i])
            {
                case MemoryRegion region:
                    packer.Set(i, region.Start, 8);
                    break;
                case ulong address:
                    packer.Set(i, address, 8);
                    break;
                case int value:
                    packer.Set(i, value);
                    break;
                case uint value:
                    packer.Set(i, value, 4);
                    break;
                case float value:
                    packer.Set(i, value);
                    break;
                default:
                    throw new ArgumentException($"argument {i} has an unsupported type {arguments[i].GetType()}");
            }
        }

        return gpu.Launch(kernel, geometry, packer.Bytes);
    }
}

/// <summary>
/// A kernel that applies one instruction element-wise: thread i loads element i of each input array into
/// <c>%i0..%i2</c>, runs the body, and stores <c>%o0..%o1</c> into element i of each output array. Predicate
/// outputs are stored as 0/1 words. Values travel as raw bits (the low bytes of each <c>ulong</c>).
/// </summary>
internal sealed class ElementwiseKernel(string body, string[] inputTypes, string[] outputTypes)
{
    private const int BlockSize = 128;

    public ElementwiseKernel(string body, string inputType, string outputType)
        : this(body, [inputType], [outputType])
    {
    }

    public EmulatorOptions Options { get; init; } = EmulatorOptions.Default;

    public string Ptx => Build();

    private static int StoredBytes(string type) => type switch
    {
        "pred" => 4,
        "b8" or "u8" or "s8" => 1,
        "b16" or "u16" or "s16" or "f16" or "bf16" => 2,
        "b32" or "u32" or "s32" or "f32" => 4,
        "b64" or "u64" or "s64" or "f64" => 8,
        _ => throw new ArgumentException($"no storage rule for .{type}"),
    };

    /// <summary>16-bit values live in .b16 registers; 8-bit values are loaded into 16-bit registers (PTX has no 8-bit registers).</summary>
    private static string RegisterType(string type) => type switch
    {
        "f16" or "bf16" => "b16",
        "b8" or "u8" or "s8" => "b16",
        _ => type,
    };

    private static string MemoryType(string type) => type switch
    {
        "f16" or "bf16" => "b16",
        _ => type,
    };

    private string Build()
    {
        var s = new System.Text.StringBuilder(PtxTestKernels.Header);
        var parameters = new List<string> { ".param .u32 count" };
        parameters.AddRange(inputTypes.Select((_, k) => $".param .u64 in{k}"));
        parameters.AddRange(outputTypes.Select((_, k) => $".param .u64 out{k}"));
        s.Append(".visible .entry elementwise(").Append(string.Join(", ", parameters)).Append(")\n{\n");
        s.Append("  .reg .pred %outside;\n  .reg .b32 %index, %count, %flag;\n  .reg .b64 %base, %offset, %address;\n");
        for (int k = 0; k < inputTypes.Length; k++)
        {
            s.Append($"  .reg .{RegisterType(inputTypes[k])} %i{k};\n");
        }

        for (int k = 0; k < outputTypes.Length; k++)
        {
            s.Append($"  .reg .{RegisterType(outputTypes[k])} %o{k};\n");
        }

        s.Append("  mov.u32 %index, %ctaid.x;\n  mov.u32 %flag, %ntid.x;\n  mul.lo.s32 %index, %index, %flag;\n");
        s.Append("  mov.u32 %flag, %tid.x;\n  add.s32 %index, %index, %flag;\n");
        s.Append("  ld.param.u32 %count, [count];\n  setp.ge.u32 %outside, %index, %count;\n  @%outside bra DONE;\n");
        for (int k = 0; k < inputTypes.Length; k++)
        {
            s.Append($"  ld.param.u64 %base, [in{k}];\n  mul.wide.u32 %offset, %index, {StoredBytes(inputTypes[k])};\n");
            s.Append($"  add.s64 %address, %base, %offset;\n  ld.global.{MemoryType(inputTypes[k])} %i{k}, [%address];\n");
        }

        s.Append("  ").Append(body).Append('\n');
        for (int k = 0; k < outputTypes.Length; k++)
        {
            s.Append($"  ld.param.u64 %base, [out{k}];\n  mul.wide.u32 %offset, %index, {StoredBytes(outputTypes[k])};\n");
            s.Append("  add.s64 %address, %base, %offset;\n");
            if (outputTypes[k] == "pred")
            {
                s.Append($"  selp.u32 %flag, 1, 0, %o{k};\n  st.global.u32 [%address], %flag;\n");
            }
            else
            {
                s.Append($"  st.global.{MemoryType(outputTypes[k])} [%address], %o{k};\n");
            }
        }

        s.Append("DONE:\n  ret;\n}\n");
        return s.ToString();
    }

    /// <summary>Runs the kernel over the inputs (all of one length); returns each output's bits per element.</summary>
    public ulong[][] Run(params ulong[][] inputs)
    {
        if (inputs.Length != inputTypes.Length)
        {
            throw new ArgumentException($"{inputTypes.Length} inputs expected");
        }

        int count = inputs.Length == 0 ? 0 : inputs[0].Length;
        using var gpu = new EmulatedGpu(Options);
        var arguments = new List<object> { count };
        for (int k = 0; k < inputs.Length; k++)
        {
            arguments.Add(PtxTestKernels.Upload<byte>(gpu, Pack(inputs[k], StoredBytes(inputTypes[k])), $"in{k}"));
        }

        var outputs = new List<MemoryRegion>();
        for (int k = 0; k < outputTypes.Length; k++)
        {
            var region = gpu.Memory.Allocate(Math.Max(1, count * StoredBytes(outputTypes[k])), $"out{k}");
            outputs.Add(region);
            arguments.Add(region);
        }

        PtxTestKernels.Launch(gpu, Ptx, new LaunchGeometry((Math.Max(1, count) + BlockSize - 1) / BlockSize, BlockSize), [.. arguments]);
        return outputs.Select((region, k) => Unpack(PtxTestKernels.Download<byte>(gpu, region, count * StoredBytes(outputTypes[k])), StoredBytes(outputTypes[k])))
            .ToArray();
    }

    private static byte[] Pack(ulong[] values, int size)
    {
        var bytes = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++)
        {
            for (int b = 0; b < size; b++)
            {
                bytes[(i * size) + b] = (byte)(values[i] >> (8 * b));
            }
        }

        return bytes;
    }

    private static ulong[] Unpack(byte[] bytes, int size)
    {
        var values = new ulong[bytes.Length / size];
        for (int i = 0; i < values.Length; i++)
        {
            for (int b = 0; b < size; b++)
            {
                values[i] |= (ulong)bytes[(i * size) + b] << (8 * b);
            }
        }

        return values;
    }

    public static ulong[] Bits(IEnumerable<float> values) => values.Select(v => (ulong)BitConverter.SingleToUInt32Bits(v)).ToArray();

    public static ulong[] Bits(IEnumerable<double> values) => values.Select(v => (ulong)BitConverter.DoubleToInt64Bits(v)).ToArray();

    public static ulong[] Bits(IEnumerable<int> values) => values.Select(v => (ulong)(uint)v).ToArray();

    public static ulong[] Bits(IEnumerable<long> values) => values.Select(v => (ulong)v).ToArray();
}
