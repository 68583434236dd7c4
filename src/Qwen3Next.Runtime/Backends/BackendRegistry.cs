using Qwen3Next.Backends.Reference;

namespace Qwen3Next.Backends;

/// <summary>Creates a backend by its command-line name.</summary>
public static class BackendRegistry
{
    public static IReadOnlyList<string> Names { get; } = ["reference"];

    public static IKernelBackend Create(string name) => name switch
    {
        "reference" => new ReferenceBackend(),
        _ => throw new ArgumentException($"Unknown backend '{name}'. Known: {string.Join(", ", Names)}."),
    };
}
