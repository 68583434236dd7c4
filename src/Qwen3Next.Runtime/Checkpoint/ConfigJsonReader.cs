using System.Text.Json;

namespace Qwen3Next.Checkpoint;

/// <summary>Typed access to the top-level keys of a config.json; every error names the file and key.</summary>
internal sealed class ConfigJsonReader(JsonElement root, string source)
{
    public string Source => source;

    public bool Has(string key) =>
        root.TryGetProperty(key, out var value) && value.ValueKind != JsonValueKind.Null;

    public int Int(string key) => Has(key) ? ToInt(Get(key), key) : throw Missing(key);

    public int Int(string key, int fallback) => Has(key) ? ToInt(Get(key), key) : fallback;

    public int? OptionalInt(string key) => Has(key) ? ToInt(Get(key), key) : null;

    public double Double(string key, double fallback)
    {
        if (!Has(key))
        {
            return fallback;
        }

        var value = Get(key);
        return value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double result) && double.IsFinite(result)
            ? result
            : throw Wrong(key, "a finite number", value);
    }

    public bool Bool(string key, bool fallback)
    {
        if (!Has(key))
        {
            return fallback;
        }

        var value = Get(key);
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong(key, "true or false", value),
        };
    }

    public string String(string key, string fallback)
    {
        if (!Has(key))
        {
            return fallback;
        }

        var value = Get(key);
        return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Wrong(key, "a string", value);
    }

    public string? OptionalString(string key) => Has(key) ? String(key, "") : null;

    /// <summary>An int array; a bare int is accepted as a one-element array (eos_token_id may be either).</summary>
    public int[]? OptionalIntList(string key)
    {
        if (!Has(key))
        {
            return null;
        }

        var value = Get(key);
        if (value.ValueKind == JsonValueKind.Number)
        {
            return [ToInt(value, key)];
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Wrong(key, "an integer or a list of integers", value);
        }

        return value.EnumerateArray().Select(item => ToInt(item, key)).ToArray();
    }

    public string[]? OptionalStringList(string key)
    {
        if (!Has(key))
        {
            return null;
        }

        var value = Get(key);
        if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(item => item.ValueKind != JsonValueKind.String))
        {
            throw Wrong(key, "a list of strings", value);
        }

        return value.EnumerateArray().Select(item => item.GetString()!).ToArray();
    }

    private JsonElement Get(string key) => root.GetProperty(key);

    private int ToInt(JsonElement value, string key)
    {
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int result))
        {
            return result;
        }

        // Some exporters write integral values as 4.0; accept those, reject 4.5.
        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double d)
            && d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue)
        {
            return (int)d;
        }

        throw Wrong(key, "a 32-bit integer", value);
    }

    private ConfigException Missing(string key) => new("required key is missing", source, key);

    private ConfigException Wrong(string key, string expected, JsonElement value) =>
        new($"must be {expected}, found {value.GetRawText()}", source, key);
}
