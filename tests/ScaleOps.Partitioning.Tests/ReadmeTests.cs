using System;
using System.IO;
using System.Linq;

namespace ScaleOps.Partitioning.Tests;

public class ReadmeTests
{
    [Theory]
    [InlineData("readme")]
    [InlineData("readme-audit")]
    public void The_package_readme_quotes_the_compiled_snippet_verbatim(string region)
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "ScaleOps.sln")))
        {
            root = Path.GetDirectoryName(root.TrimEnd(Path.DirectorySeparatorChar)) ?? throw new InvalidOperationException("no repository root");
        }

        var snippet = File.ReadAllLines(Path.Combine(root, "tests/ScaleOps.Partitioning.Tests/Snippets/UsePartitioning.cs"))
            .SkipWhile(l => l.Trim() != "#region " + region).Skip(1)
            .TakeWhile(l => !l.Contains("#endregion", StringComparison.Ordinal))
            .Select(l => l.Length >= 8 ? l[8..] : l.TrimStart());
        var expected = string.Join('\n', snippet).Trim();
        Assert.NotEmpty(expected);
        var readme = File.ReadAllText(Path.Combine(root, "src/ScaleOps.Partitioning/README.md")).Replace("\r\n", "\n", StringComparison.Ordinal);
        Assert.Contains(expected, readme, StringComparison.Ordinal);
    }
}
