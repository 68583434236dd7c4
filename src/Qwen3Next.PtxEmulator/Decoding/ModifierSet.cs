namespace Qwen3Next.PtxEmulator.Decoding;

/// <summary>
/// The dotted modifiers of one instruction, consumed one by one as the decoder recognises them; whatever is left
/// at the end was not understood and makes the instruction unsupported (nothing is ignored by accident).
/// </summary>
internal sealed class ModifierSet(IReadOnlyList<string> modifiers)
{
    private readonly List<string> left = [.. modifiers];

    public bool Take(string modifier) => left.Remove(modifier);

    /// <summary>Removes the first of <paramref name="options"/> present and returns it, or null.</summary>
    public string? TakeAny(params string[] options)
    {
        foreach (var m in left)
        {
            if (options.Contains(m))
            {
                left.Remove(m);
                return m;
            }
        }

        return null;
    }

    /// <summary>Removes and returns the types, in order (cvt has two, mma four).</summary>
    public List<ScalarType> TakeTypes()
    {
        var types = new List<ScalarType>();
        for (int i = 0; i < left.Count;)
        {
            var t = ScalarTypes.Parse(left[i]);
            if (t != ScalarType.None)
            {
                types.Add(t);
                left.RemoveAt(i);
            }
            else
            {
                i++;
            }
        }

        return types;
    }

    public IReadOnlyList<string> Left => left;
}
