using System.Text.Json;
using System.Text.Json.Serialization;

namespace Qwen3Next.Streaming;

/// <summary>
/// How often each routed expert of each MoE layer was selected in a run (<c>[layer][expert]</c>), saved as JSON so a
/// later run can warm its expert cache with the most used experts instead of starting from an arbitrary set.
/// </summary>
public sealed record ExpertRoutingCounts(int Layers, int Experts, long[][] Counts)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    [JsonIgnore]
    public long Total => Counts.Sum(layer => layer.Sum());

    public static ExpertRoutingCounts FromFlat(int layers, int experts, IReadOnlyList<uint> flat)
    {
        if (flat.Count != (long)layers * experts)
        {
            throw new ArgumentException($"{flat.Count} counts for {layers} layers x {experts} experts.", nameof(flat));
        }

        return new ExpertRoutingCounts(layers, experts,
            Enumerable.Range(0, layers).Select(l => Enumerable.Range(0, experts).Select(e => (long)flat[(l * experts) + e]).ToArray()).ToArray());
    }

    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    /// <summary>Reads a file written by <see cref="Save"/>; <see cref="FormatException"/> naming the file for anything else.</summary>
    public static ExpertRoutingCounts Load(string path)
    {
        ExpertRoutingCounts? counts;
        try
        {
            counts = JsonSerializer.Deserialize<ExpertRoutingCounts>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path} is not an expert routing-count file: {e.Message}", e);
        }

        if (counts is null || counts.Layers < 1 || counts.Experts < 1 || counts.Counts is null || counts.Counts.Length != counts.Layers
            || counts.Counts.Any(layer => layer is null || layer.Length != counts.Experts || layer.Any(c => c < 0)))
        {
            throw new FormatException($"{path} is not an expert routing-count file: it needs \"layers\", \"experts\" and \"counts\" "
                + "[layers][experts] of non-negative numbers.");
        }

        return counts;
    }

    /// <summary>Checks that these counts belong to a model with <paramref name="layers"/> MoE layers of <paramref name="experts"/> experts.</summary>
    public void RequireShape(int layers, int experts)
    {
        if (Layers != layers || Experts != experts)
        {
            throw new ArgumentException($"The routing counts are for {Layers} layers x {Experts} experts; this model has {layers} x {experts}.");
        }
    }

    /// <summary>
    /// The keys (<c>layer·E + expert</c>) a cache of <paramref name="slots"/> slots starts with, most wanted first: by
    /// <paramref name="counts"/> when given (ties to the lower key), else the same number of experts from every layer
    /// (experts 0, 1, … of each layer in turn).
    /// </summary>
    public static int[] WarmKeys(int layers, int experts, int slots, ExpertRoutingCounts? counts)
    {
        int n = (int)Math.Min(slots, (long)layers * experts);
        if (counts is null)
        {
            return Enumerable.Range(0, n).Select(i => ((i % layers) * experts) + (i / layers)).ToArray();
        }

        counts.RequireShape(layers, experts);
        return Enumerable.Range(0, layers * experts)
            .OrderByDescending(key => counts.Counts[key / experts][key % experts]).ThenBy(key => key)
            .Take(n).ToArray();
    }

    [JsonIgnore]
    public string Summary => $"{Total:N0} selections over {Layers} layers x {Experts} experts";
}
