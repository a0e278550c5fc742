using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace ScaleOps.Packaging.Tests;

/// <summary>What each packed .nupkg holds: README, assembly, XML docs, symbols, dependencies, embedded scripts.</summary>
[Collection(PackedPackagesCollection.Name)]
public sealed partial class PackageContentTests(PackedPackages packages)
{
    private const string Tfm = ExpectedPackages.TargetFramework;

    public static TheoryData<string> Packages() => [.. ExpectedPackages.ScaleOpsDependency.Keys.Order(StringComparer.Ordinal)];

    [Fact]
    public void Every_src_project_packs_in_release_without_a_warning()
    {
        Assert.NotNull(packages.Pack);
        Assert.True(packages.Pack.ExitCode == 0, packages.Pack.Describe());
        Assert.True(PackedPackages.Warnings(packages.Pack).Count == 0, "The pack warned:\n" + string.Join('\n', PackedPackages.Warnings(packages.Pack)));
        Assert.Equal(ExpectedPackages.ScaleOpsDependency.Keys.Order(StringComparer.Ordinal), packages.Ids.Order(StringComparer.Ordinal));
        var packed = Directory.GetFiles(packages.Feed).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        var expected = packages.Ids.SelectMany(id => new[] { $"{id}.{packages.Version}.nupkg", $"{id}.{packages.Version}.snupkg" }).Order(StringComparer.Ordinal);
        Assert.Equal(expected, packed);
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void The_package_holds_its_readme_assembly_and_xml_docs_and_nothing_else(string id)
    {
        using var package = packages.Open(id);
        Assert.Equal(
            new[] { $"{id}.nuspec", "README.md", $"lib/{Tfm}/{id}.dll", $"lib/{Tfm}/{id}.xml" }.Order(StringComparer.Ordinal),
            package.Files);
        Assert.Equal(id, package.Metadata("id"));
        Assert.Equal(packages.Version, package.Metadata("version"));
        Assert.Equal("README.md", package.Metadata("readme"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(packages.ProjectDirectory(id), "README.md")), package.Read("README.md"));
        Assert.Equal(("expression", "MIT"), package.License());
        Assert.False(string.IsNullOrWhiteSpace(package.Metadata("description")), $"{id} has no description.");
        Assert.StartsWith(packages.Version, package.InformationalVersion($"lib/{Tfm}/{id}.dll"), StringComparison.Ordinal);

        // The XML docs: IntelliSense for the package's users.
        var docs = XDocument.Parse(Encoding.UTF8.GetString(package.Read($"lib/{Tfm}/{id}.xml")));
        Assert.Equal(id, docs.Root!.Element("assembly")?.Element("name")?.Value);
        Assert.True(docs.Root.Element("members")?.Elements("member").Count() > 10, $"{id}.xml documents almost nothing.");
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void The_symbol_package_holds_the_pdb(string id)
    {
        packages.RequirePacked();
        using var symbols = new PackageFile(packages.SymbolPackagePath(id));
        Assert.Equal(new[] { $"{id}.nuspec", $"lib/{Tfm}/{id}.pdb" }.Order(StringComparer.Ordinal), symbols.Files);
        Assert.True(symbols.Read($"lib/{Tfm}/{id}.pdb").Length > 1000, $"{id}.pdb is almost empty.");
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void The_dependencies_are_core_and_the_packages_own_third_party_libraries_at_the_central_versions(string id)
    {
        using var package = packages.Open(id);
        var groups = package.DependencyGroups();
        Assert.Equal(new[] { Tfm }, groups.Keys);
        var central = packages.CentralVersions();
        var expected = ExpectedPackages.ThirdParty[id].Select(d => (Id: d, Version: central[d])).ToList();
        if (ExpectedPackages.ScaleOpsDependency[id] is { } scaleOps)
        {
            expected.Add((scaleOps, packages.Version));
        }

        Assert.Equal(
            expected.Select(d => $"{d.Id} {d.Version}").Order(StringComparer.Ordinal),
            groups[Tfm].Select(d => $"{d.Id} {d.Version}").Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void No_feature_package_depends_on_another_and_nothing_of_the_tests_or_the_build_leaks(string id)
    {
        using var package = packages.Open(id);
        var dependencies = package.DependencyGroups().Values.SelectMany(g => g).Select(d => d.Id).ToList();
        var scaleOps = dependencies.Where(d => d.StartsWith("ScaleOps.", StringComparison.Ordinal)).ToList();
        var allowed = id == "ScaleOps.Rls.EntityFrameworkCore" ? "ScaleOps.Rls" : "ScaleOps.Core";
        Assert.True(scaleOps.All(d => d == allowed), $"{id} depends on {string.Join(", ", scaleOps)}; it may depend on {allowed} only.");
        var leaked = dependencies.Where(d => ExpectedPackages.BuildAndTestOnlyPrefixes.Any(p => d.StartsWith(p, StringComparison.OrdinalIgnoreCase))
            || d.Contains("Analyzers", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(leaked.Count == 0, $"{id} depends on test or build packages: {string.Join(", ", leaked)}.");
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void Every_sql_and_lua_script_of_the_project_is_an_embedded_resource_of_the_packed_assembly(string id)
    {
        using var package = packages.Open(id);
        var project = packages.ProjectDirectory(id);
        var rootNamespace = XDocument.Load(Path.Combine(project, id + ".csproj")).Descendants("RootNamespace").SingleOrDefault()?.Value ?? id;
        var expected = Directory.GetFiles(project, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".sql", StringComparison.Ordinal) || f.EndsWith(".lua", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(project, f).Replace('\\', '/'))
            .Where(f => !f.StartsWith("bin/", StringComparison.Ordinal) && !f.StartsWith("obj/", StringComparison.Ordinal))
            .Select(f => rootNamespace + "." + f.Replace('/', '.'))
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.Equal(expected, package.ManifestResources($"lib/{Tfm}/{id}.dll"));
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void Every_link_of_the_packed_readme_works_outside_the_repository(string id)
    {
        using var package = packages.Open(id);
        var readme = Encoding.UTF8.GetString(package.Read("README.md"));

        // nuget.org and IDEs show the README alone: a relative link points into a repository that is not there.
        var broken = Links(readme).Where(l => !IsAbsoluteOrAnchor(l)).ToList();
        Assert.True(broken.Count == 0, $"{id}'s packed README links to {string.Join(", ", broken)}, which do not exist inside the package.");
    }

    /// <summary>The link and image targets of a markdown text, outside code.</summary>
    public static IEnumerable<string> Links(string markdown)
    {
        var text = InlineCode().Replace(FencedCode().Replace(markdown, ""), "");
        return InlineLink().Matches(text).Select(m => m.Groups[1].Value)
            .Concat(ReferenceDefinition().Matches(text).Select(m => m.Groups[1].Value))
            .Concat(HtmlLink().Matches(text).Select(m => m.Groups[1].Value));
    }

    private static bool IsAbsoluteOrAnchor(string link) =>
        link.StartsWith('#') || link.StartsWith("https://", StringComparison.Ordinal) || link.StartsWith("http://", StringComparison.Ordinal)
        || link.StartsWith("mailto:", StringComparison.Ordinal);

    [Fact]
    public void The_link_reader_finds_inline_reference_and_html_links_and_skips_code()
    {
        var links = Links("see [a](../x/README.md) and ![i](img.png \"t\")\n[r]: docs/r.md\n<a href=\"y.md\">y</a>\n"
            + "`[not](code.md)`\n```\n[nor](block.md)\n```\n[ok](https://example.com) [top](#use)").ToList();
        Assert.Equal(new[] { "../x/README.md", "img.png", "https://example.com", "#use", "docs/r.md", "y.md" }, links);
        Assert.Equal(new[] { "../x/README.md", "img.png", "docs/r.md", "y.md" }, links.Where(l => !IsAbsoluteOrAnchor(l)));
    }

    [Fact]
    public void The_warning_reader_finds_msbuild_compiler_and_nuget_warnings_and_not_the_summary()
    {
        var result = new ChildResult("dotnet pack", 0,
        [
            "/r/src/A/A.csproj : warning NU5128: Some target frameworks declared in the dependencies group [/r/src/A/A.csproj]",
            "/r/src/A/B.cs(3,5): warning CS1591: Missing XML comment [/r/src/A/A.csproj]",
            "/r/src/A/A.csproj : warning MSB3277: Found conflicts between different versions",
            "    0 Warning(s)",
            "  Successfully created package '/tmp/feed/A.0.0.0-packtest.1.nupkg'.",
        ], TimeSpan.Zero);
        Assert.Equal(3, PackedPackages.Warnings(result).Count);
    }

    [GeneratedRegex(@"^```.*?^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex FencedCode();

    [GeneratedRegex(@"`[^`\n]*`")]
    private static partial Regex InlineCode();

    [GeneratedRegex(@"\]\(\s*<?([^)\s>]+)")]
    private static partial Regex InlineLink();

    [GeneratedRegex(@"^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)", RegexOptions.Multiline)]
    private static partial Regex ReferenceDefinition();

    [GeneratedRegex(@"(?:href|src)\s*=\s*""([^""]+)""", RegexOptions.IgnoreCase)]
    private static partial Regex HtmlLink();
}
