namespace Qwen3Next.Tests;

/// <summary>Finds a file relative to the repository root (the folder holding Kernels.sln above the test binaries).</summary>
internal static class RepositoryFile
{
    public static string? Find(string relativePath)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kernels.sln")))
            {
                string path = Path.Combine(dir.FullName, relativePath);
                return File.Exists(path) ? path : null;
            }
        }

        return null;
    }
}
