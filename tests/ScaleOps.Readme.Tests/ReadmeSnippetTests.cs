using System.IO;
using System.Text.RegularExpressions;

namespace ScaleOps.Readme.Tests;

/// <summary>
/// Every C# block of a package README is compiled in <c>Snippets/</c> (inside <c>#region readme PATH N</c>) and is
/// the same text there as in the README, so a README cannot show code that does not build against the packages.
/// </summary>
public partial class ReadmeSnippetTests
{
    private static readonly string Root = FindRepositoryRoot();

    public static TheoryData<string> Readmes()
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.GetFiles(Path.Combine(Root, "src"), "README.md", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(Root, path).Replace('\\', '/'));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Readmes))]
    public void Every_csharp_block_of_the_readme_is_a_compiled_snippet(string readme)
    {
        var blocks = CodeBlock().Matches(Normalize(File.ReadAllText(Path.Combine(Root, readme)))).Select(m => m.Groups[1].Value.TrimEnd()).ToList();
        var regions = CompiledRegions().Where(r => r.Readme == readme).ToDictionary(r => r.Block, r => r.Text);

        Assert.NotEmpty(blocks);
        for (var i = 0; i < blocks.Count; i++)
        {
            Assert.True(regions.TryGetValue(i + 1, out var compiled), $"{readme}: C# block {i + 1} has no '#region readme {readme} {i + 1}' in tests/ScaleOps.Readme.Tests/Snippets.");
            Assert.Equal(blocks[i], compiled);
        }

        Assert.All(regions.Keys, n => Assert.True(n <= blocks.Count, $"{readme} has no C# block {n}: its region in Snippets/ is stale."));
    }

    [Fact]
    public void Every_region_names_a_readme_that_exists()
    {
        var regions = CompiledRegions().ToList();
        Assert.NotEmpty(regions);
        Assert.All(regions, r => Assert.True(File.Exists(Path.Combine(Root, r.Readme)), $"Snippets/ names a missing README: {r.Readme}."));
    }

    private static IEnumerable<(string Readme, int Block, string Text)> CompiledRegions()
    {
        foreach (var file in Directory.GetFiles(Path.Combine(Root, "tests/ScaleOps.Readme.Tests/Snippets"), "*.cs"))
        {
            var lines = Normalize(File.ReadAllText(file)).Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                var start = RegionStart().Match(lines[i]);
                if (!start.Success)
                {
                    continue;
                }

                var body = lines.Skip(i + 1).TakeWhile(l => l.Trim() != "#endregion").ToList();
                var indent = body.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
                var text = string.Join('\n', body.Select(l => l.Trim().Length == 0 ? string.Empty : l[indent..])).TrimEnd();
                yield return (start.Groups[1].Value, int.Parse(start.Groups[2].Value, CultureInfo.InvariantCulture), text);
            }
        }
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal);

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

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    [GeneratedRegex(@"^\s*#region readme (\S+) (\d+)\s*$")]
    private static partial Regex RegionStart();
}
