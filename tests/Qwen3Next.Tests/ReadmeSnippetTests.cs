using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NUnit.Framework;

namespace Qwen3Next.Tests;

/// <summary>The README's library snippets compile as printed (a console program with the SDK's implicit usings),
/// against the runtime assembly these tests use.</summary>
public sealed class ReadmeSnippetTests
{
    /// <summary>What <c>&lt;ImplicitUsings&gt;enable&lt;/ImplicitUsings&gt;</c> adds to a console project.</summary>
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    /// <summary>The first C# block after <paramref name="heading"/>: the library snippet, and the batching one.</summary>
    [TestCase("## The library API", "Generator.Generate")]
    [TestCase("### Many sequences at once", "batch.Step")]
    public void TheLibrarySnippetCompiles(string heading, string marker)
    {
        string readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "data", "README.md"));
        int at = readme.IndexOf(heading, StringComparison.Ordinal);
        Assert.That(at, Is.GreaterThanOrEqualTo(0), $"the README has a section {heading}");
        string snippet = Regex.Match(readme[at..], "```csharp\n(.*?)```", RegexOptions.Singleline).Groups[1].Value;
        Assert.That(snippet, Does.Contain(marker), "the snippet was found");

        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Select(path => MetadataReference.CreateFromFile(path));
        var compilation = CSharpCompilation.Create("ReadmeSnippet",
            [CSharpSyntaxTree.ParseText(snippet, parse), CSharpSyntaxTree.ParseText(ImplicitUsings, parse)], references,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        var problems = compilation.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).Select(d => d.ToString()).ToList();
        Assert.That(problems, Is.Empty);
    }
}
