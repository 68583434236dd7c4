namespace Qwen3Next.Backends.Ptx;

/// <summary>Size checks the launchers run before any launch: each failure names the kernel and the size at fault.</summary>
internal static class LaunchChecks
{
    public static void Require(bool condition, string kernel, string what)
    {
        if (!condition)
        {
            throw new ArgumentException($"{kernel}: {what}.");
        }
    }

    public static void Positive(string kernel, string name, long value) => Require(value >= 1, kernel, $"{name} = {value} must be at least 1");

    public static void AtMost(string kernel, string name, long value, long limit) => Require(value <= limit, kernel, $"{name} = {value} exceeds the limit {limit}");

    public static void Holds(string kernel, string tensor, long length, long needed)
        => Require(length >= needed, kernel, $"{tensor} holds {length} elements but {needed} are needed");

    public static int CeilDiv(long a, int b) => checked((int)((a + b - 1) / b));
}
