using Qwen3Next.Ops.Basic;
using Qwen3Next.Tests.Checkpoint;

namespace Qwen3Next.Tests.Safety;

/// <summary>Copies of the tiny checkpoint with non-finite (or huge) bf16 values written into one tensor.</summary>
internal static class PoisonedCheckpoint
{
    /// <summary>Poison every element of the tensor, not one.</summary>
    public const int Every = -1;

    /// <summary>Writes the tiny model into a new folder under <paramref name="parent"/> with element <paramref name="element"/>
    /// (or <see cref="Every"/> element) of <paramref name="tensor"/> set to <paramref name="value"/>; returns the folder.</summary>
    public static string Write(string parent, string tensor, int element, float value)
    {
        string folder = Path.Combine(parent, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        GoldenData.WriteTinyModelCopy(folder, tensors =>
        {
            var data = tensors.Single(t => t.Name == tensor).Data;
            for (int i = element == Every ? 0 : element; i < (element == Every ? data.Length / 2 : element + 1); i++)
            {
                BitConverter.TryWriteBytes(data.AsSpan(i * 2, 2), Bf16.FromFloat(value));
            }
        });
        return folder;
    }
}
