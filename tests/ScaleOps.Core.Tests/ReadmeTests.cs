using System;
using System.IO;
using System.Linq;

namespace ScaleOps.Core.Tests;

public class ReadmeTests
{
    [Fact]
    public void The_readme_quotes_the_compiled_snippet_verbatim()
    {
        var root = FindRepositoryRoot();
        var snippet = File.ReadAllLines(Path.Combine(root, "tests/ScaleOps.Core.Tests/Snippets/UseInYourService.cs"))
            .SkipWhile(l => !l.Contains("#region readme", StringComparison.Ordinal)).Skip(1)
            .TakeWhile(l => !l.Contains("#endregion", StringComparison.Ordinal))
            .Select(l => l.Length >= 4 ? l[4..] : l.TrimStart());
        var expected = string.Join('\n', snippet).Trim();
        var readme = File.ReadAllText(Path.Combine(root, "README.md")).Replace("\r\n", "\n", StringComparison.Ordinal);
        Assert.Contains(expected, readme, StringComparison.Ordinal);
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ScaleOps.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("ScaleOps.sln not found above " + AppContext.BaseDirectory);
    }
}
