using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using System.Xml.Linq;
using Npgsql;
using ScaleOps.TestInfrastructure;
using Xunit.Abstractions;

namespace ScaleOps.Packaging.Tests;

/// <summary>
/// A fresh database owned by a NOSUPERUSER NOBYPASSRLS role, as a service's would be (ScaleOps.Rls refuses to start
/// as a superuser).
/// </summary>
public sealed class ConsumerDatabase : PostgresDatabase
{
    public const string AppRole = "scaleops_packtest_app";

    /// <summary>The connection string of the application role.</summary>
    public string AppConnectionString => new NpgsqlConnectionStringBuilder(ConnectionString) { Username = AppRole }.ToString();

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await PostgresServer.ExecuteAsync(
            $"DO $$ BEGIN CREATE ROLE {AppRole} LOGIN NOSUPERUSER NOBYPASSRLS; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
        await PostgresServer.ExecuteAsync($"ALTER DATABASE \"{Name}\" OWNER TO {AppRole}");
    }
}

/// <summary>
/// The packages used the way a user uses them: a project outside the repository (none of its Directory.*.props apply)
/// with PackageReferences to the packed packages, restored from the pack's folder beside the machine's usual source,
/// built, and run against the test servers (Consumer/Program.cs).
/// </summary>
[Collection(PackedPackagesCollection.Name)]
public sealed partial class ConsumerTests(PackedPackages packages, ConsumerDatabase database, ITestOutputHelper output) : IClassFixture<ConsumerDatabase>
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    /// <summary>What the consumer references: every feature package; ScaleOps.Core comes as their dependency.</summary>
    private static readonly string[] References =
        ["ScaleOps.Rls", "ScaleOps.Rls.EntityFrameworkCore", "ScaleOps.Jobs", "ScaleOps.Partitioning", "ScaleOps.Caching", "ScaleOps.Resilience"];

    [Fact]
    public async Task A_service_outside_the_repository_builds_against_the_packages_and_uses_each_of_them_against_the_servers()
    {
        packages.RequirePacked();
        var redis = await TcpServer.RedisAsync();
        var consumer = Path.Combine(packages.WorkDirectory, "consumer");
        Assert.False(consumer.StartsWith(packages.RepositoryRoot, StringComparison.Ordinal), $"{consumer} is inside the repository.");
        await WriteConsumerAsync(consumer);

        var build = await ChildProcess.RunAsync(
            "dotnet", ["build", "-c", "Release", "--disable-build-servers", "-nologo", "-tl:off", "-v:minimal"], consumer, BuildTimeout,
            new Dictionary<string, string?> { ["NUGET_PACKAGES"] = null }); // it would override the consumer's packages folder
        output.WriteLine($"pack: {packages.Pack!.Elapsed.TotalSeconds:0.0} s, consumer restore and build: {build.Elapsed.TotalSeconds:0.0} s");
        Assert.True(build.ExitCode == 0, build.Describe());
        Assert.True(PackedPackages.Warnings(build).Count == 0, "The consumer's build warned:\n" + string.Join('\n', PackedPackages.Warnings(build)));

        // The ScaleOps packages came from the pack's folder (extracted into the consumer's own packages folder), Core too.
        foreach (var id in References.Append("ScaleOps.Core"))
        {
            var extracted = Path.Combine(consumer, "packages", id.ToLowerInvariant(), packages.Version);
            Assert.True(Directory.Exists(extracted), $"{id} {packages.Version} was not restored into {extracted}.");
        }

        var run = await ChildProcess.RunAsync(
            "dotnet", [Path.Combine(consumer, "bin", "Release", ExpectedPackages.TargetFramework, "Consumer.dll")], consumer, RunTimeout,
            new Dictionary<string, string?>
            {
                ["DOTNET_ENVIRONMENT"] = "Production",
                ["ConnectionStrings__Postgres"] = database.AppConnectionString,
                ["ConnectionStrings__Redis"] = redis,
                ["Consumer__KeyPrefix"] = $"packtest:{database.Name}",
                ["Logging__LogLevel__Default"] = "Warning",
            });
        output.WriteLine($"consumer run: {run.Elapsed.TotalSeconds:0.0} s");
        output.WriteLine(run.Output);
        Assert.True(run.ExitCode == 0, run.Describe());

        Assert.Equal($"migrations: consumer 1, {ExpectedMigrations()}", Line(run, "migrations: "));
        Assert.Equal("rls: acme sees 1 note(s), globex sees 0", Line(run, "rls: "));
        Assert.Matches(@"^jobs: job (\d+) ran as job \1 for tenant acme with payload hello$", Line(run, "jobs: "));
        Assert.Equal("cache: hello from Factory, then hello from Memory; redis in use: True, redis keys of the entry: 1", Line(run, "cache: "));
        Assert.Equal("ratelimit: acquired, acquired, refused; redis keys: True", Line(run, "ratelimit: "));

        // Monthly, Premake 2, an empty table: the current month, two ahead and two back (pg_partman's names).
        var partitioning = PartitioningLine().Match(Line(run, "partitioning: "));
        Assert.True(partitioning.Success, Line(run, "partitioning: "));
        var month = DateTime.ParseExact(partitioning.Groups["month"].Value, "yyyy_MM", CultureInfo.InvariantCulture);
        var expected = Enumerable.Range(-2, 5).Select(i => $"events_p{month.AddMonths(i):yyyy_MM}");
        Assert.Equal(string.Join(' ', expected), partitioning.Groups["created"].Value);
        Assert.Equal("done", run.Lines[^1]);
    }

    private async Task WriteConsumerAsync(string consumer)
    {
        var template = Path.Combine(packages.RepositoryRoot, "tests", "ScaleOps.Packaging.Tests", "Consumer");
        Directory.CreateDirectory(Path.Combine(consumer, "Sql"));
        File.Copy(Path.Combine(template, "Program.cs"), Path.Combine(consumer, "Program.cs"));
        foreach (var script in Directory.GetFiles(Path.Combine(template, "Sql"), "*.sql"))
        {
            File.Copy(script, Path.Combine(consumer, "Sql", Path.GetFileName(script)));
        }

        // Guards: an MSBuild file above the temporary folder would be imported as the repository's are inside it.
        foreach (var file in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
        {
            await File.WriteAllTextAsync(Path.Combine(consumer, file), "<Project />\n");
        }

        var hostingVersion = packages.CentralVersions()["Microsoft.Extensions.Hosting"];
        var project = new XElement("Project", new XAttribute("Sdk", "Microsoft.NET.Sdk"),
            new XElement("PropertyGroup",
                new XElement("OutputType", "Exe"),
                new XElement("TargetFramework", ExpectedPackages.TargetFramework),
                new XElement("RootNamespace", "Consumer"),
                new XElement("Nullable", "enable"),
                new XElement("ImplicitUsings", "enable"),
                new XElement("TreatWarningsAsErrors", "true"),
                // Vulnerability advisories change by the day; the repository turns the audit off as well.
                new XElement("NuGetAudit", "false")),
            new XElement("ItemGroup",
                References.Select(id => new XElement("PackageReference", new XAttribute("Include", id), new XAttribute("Version", packages.Version))),
                new XElement("PackageReference", new XAttribute("Include", "Microsoft.Extensions.Hosting"), new XAttribute("Version", hostingVersion))),
            new XElement("ItemGroup", new XElement("EmbeddedResource", new XAttribute("Include", "Sql/*.sql"))));
        await File.WriteAllTextAsync(Path.Combine(consumer, "Consumer.csproj"), project.ToString());

        // The pack's folder beside the machine's usual sources (no <clear/>: those of the user's NuGet.Config stay). The
        // consumer extracts packages into a folder of its own, so test versions never reach the machine's cache, and
        // takes what the machine's cache already holds from there (a fallback folder) instead of downloading it again.
        var config = new XElement("configuration",
            new XElement("config", Add("globalPackagesFolder", Path.Combine(consumer, "packages"))),
            new XElement("packageSources", Add("scaleops-packtest", packages.Feed)),
            new XElement("fallbackPackageFolders", Add("machine-global-packages", await MachineGlobalPackagesAsync())));
        await File.WriteAllTextAsync(Path.Combine(consumer, "nuget.config"), config.ToString());
    }

    private static XElement Add(string key, string value) => new("add", new XAttribute("key", key), new XAttribute("value", value));

    /// <summary>Where this machine's restores put packages (those of the repository's own restore among them).</summary>
    private async Task<string> MachineGlobalPackagesAsync()
    {
        var locals = await ChildProcess.RunAsync("dotnet", ["nuget", "locals", "global-packages", "--list"], packages.RepositoryRoot, TimeSpan.FromMinutes(1));
        Assert.True(locals.ExitCode == 0, locals.Describe());
        var line = locals.Lines.Single(l => l.StartsWith("global-packages: ", StringComparison.Ordinal));
        return line["global-packages: ".Length..].Trim();
    }

    /// <summary>The migrations each package ships, as the consumer lists them (component, count; by component).</summary>
    private string ExpectedMigrations()
    {
        var components = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["jobs"] = "ScaleOps.Jobs", ["partitioning"] = "ScaleOps.Partitioning", ["resilience"] = "ScaleOps.Resilience", ["rls"] = "ScaleOps.Rls",
        };
        return string.Join(", ", components.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c =>
            $"{c.Key} {Directory.GetFiles(Path.Combine(packages.ProjectDirectory(c.Value), "Sql", "Migrations"), "*.sql").Length}"));
    }

    private static string Line(ChildResult run, string prefix) =>
        run.Lines.SingleOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))
        ?? throw new Xunit.Sdk.XunitException($"The consumer printed no line starting with '{prefix}'. {run.Describe()}");

    [GeneratedRegex(@"^partitioning: ran True, created (?<created>[a-z0-9_ ]+); failures 0; a row of now\(\) went into app\.events_p(?<month>\d{4}_\d{2})$")]
    private static partial Regex PartitioningLine();
}
