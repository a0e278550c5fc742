using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using System.Xml.Linq;

namespace ScaleOps.Packaging.Tests;

/// <summary>
/// Every project under <c>src/</c>, packed once per test run as a publisher would (<c>dotnet pack -c Release</c>) with a
/// version of its own (<c>0.0.0-packtest.*</c>), into a temporary folder outside the repository. The build goes to
/// that folder too (<c>--artifacts-path</c>), so the repository's <c>bin/</c> and <c>obj/</c>, which a parallel build
/// may be using, are not touched.
/// </summary>
public sealed partial class PackedPackages : IAsyncLifetime
{
    /// <summary>The bound of the pack (a cold Release build of every package on a loaded 2-core machine).</summary>
    public static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(8);

    /// <summary>The repository root (where ScaleOps.sln is).</summary>
    public string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The temporary folder of this run: the packages, the pack's build, the consumer project.</summary>
    public string WorkDirectory { get; } = Path.Combine(Path.GetTempPath(), $"scaleops-packtest-{Environment.ProcessId}-{Guid.NewGuid():N}");

    /// <summary>The package version of this run: never one in a package cache already.</summary>
    public string Version { get; } = $"0.0.0-packtest.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";

    /// <summary>The folder the packages are packed into (the consumer's package source).</summary>
    public string Feed => Path.Combine(WorkDirectory, "feed");

    /// <summary>The ids of the src projects (each project's name is its package id).</summary>
    public IReadOnlyList<string> Ids { get; private set; } = [];

    /// <summary>The <c>dotnet pack</c> run.</summary>
    public ChildResult? Pack { get; private set; }

    /// <summary>The src project of a package.</summary>
    public string ProjectDirectory(string id) => Path.Combine(RepositoryRoot, "src", id);

    /// <summary>The packed .nupkg of a package.</summary>
    public string PackagePath(string id) => Path.Combine(Feed, $"{id}.{Version}.nupkg");

    /// <summary>The packed symbol package (.snupkg) of a package.</summary>
    public string SymbolPackagePath(string id) => Path.Combine(Feed, $"{id}.{Version}.snupkg");

    /// <summary>Opens a packed package; fails with the pack's output when the pack failed.</summary>
    public PackageFile Open(string id)
    {
        RequirePacked();
        return new PackageFile(PackagePath(id));
    }

    /// <summary>Throws with the pack's output unless the pack succeeded.</summary>
    public void RequirePacked()
    {
        if (Pack is null || Pack.ExitCode != 0)
        {
            throw new InvalidOperationException("The packages were not packed: " + (Pack?.Describe() ?? "the pack did not run"));
        }
    }

    /// <summary>The warnings (MSBuild, compiler, NuGet) in a build's output.</summary>
    public static IReadOnlyList<string> Warnings(ChildResult result) =>
        [.. result.Lines.Where(l => WarningLine().IsMatch(l)).Distinct(StringComparer.Ordinal)];

    /// <summary>The package versions of <c>Directory.Packages.props</c>, its properties resolved.</summary>
    public IReadOnlyDictionary<string, string> CentralVersions()
    {
        var document = XDocument.Load(Path.Combine(RepositoryRoot, "Directory.Packages.props"));
        var properties = document.Root!.Elements("PropertyGroup").Elements().ToDictionary(e => e.Name.LocalName, e => e.Value, StringComparer.Ordinal);
        return document.Root.Elements("ItemGroup").Elements("PackageVersion").ToDictionary(
            e => (string)e.Attribute("Include")!,
            e => PropertyReference().Replace((string)e.Attribute("Version")!, m => properties[m.Groups[1].Value]),
            StringComparer.OrdinalIgnoreCase);
    }

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        var projects = Directory.GetFiles(Path.Combine(RepositoryRoot, "src"), "*.csproj", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal).ToList();
        Ids = [.. projects.Select(Path.GetFileNameWithoutExtension).Select(n => n!)];
        Directory.CreateDirectory(WorkDirectory);

        // One solution of the src projects alone: one restore and one build graph for all of them.
        var solution = Path.Combine(WorkDirectory, "packages.slnx");
        await File.WriteAllTextAsync(solution, new XElement("Solution", projects.Select(p => new XElement("Project", new XAttribute("Path", p)))).ToString());
        Pack = await ChildProcess.RunAsync(
            "dotnet",
            ["pack", solution, "-c", "Release", "-o", Feed, "--artifacts-path", Path.Combine(WorkDirectory, "artifacts"),
             "--disable-build-servers", "-nologo", "-tl:off", "-v:minimal", $"-p:Version={Version}"],
            RepositoryRoot,
            PackTimeout);
    }

    /// <inheritdoc />
    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(WorkDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A process still holding a file: the folder is in the temporary directory, the machine clears it.
        }

        return Task.CompletedTask;
    }

    internal static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ScaleOps.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No ScaleOps.sln above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"\bwarning [A-Z]+[0-9]+\b")]
    private static partial Regex WarningLine();

    [GeneratedRegex(@"\$\(([A-Za-z0-9_]+)\)")]
    private static partial Regex PropertyReference();
}

/// <summary>The collection of the tests that share one pack.</summary>
[CollectionDefinition(Name)]
public sealed class PackedPackagesCollection : ICollectionFixture<PackedPackages>
{
    public const string Name = "packed packages";
}
