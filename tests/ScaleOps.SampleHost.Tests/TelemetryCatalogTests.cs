using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Caching;
using ScaleOps.Data;
using ScaleOps.Diagnostics;
using ScaleOps.Jobs;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.Rls;
using ScaleOps.Tenancy;

namespace ScaleOps.SampleHost.Tests;

/// <summary>
/// The <c>ScaleOps</c> meter's published instruments (name, kind, unit) of a host with every package, pinned by
/// <c>Golden/instruments.txt</c>; and every pinned instrument is in the catalogue (<c>docs/telemetry.md</c>, same kind
/// and unit) and in its package's README. Operations teams build dashboards and alerts from the documented names: a
/// rename, a new instrument or a changed unit must change the docs and the golden file in the same commit.
/// </summary>
public partial class TelemetryCatalogTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    private const string GoldenPath = "tests/ScaleOps.SampleHost.Tests/Golden/instruments.txt";
    private const string CatalogPath = "docs/telemetry.md";

    private static readonly string Root = FindRepositoryRoot();

    /// <summary>The README that documents each instrument prefix.</summary>
    private static readonly Dictionary<string, string> ReadmeOfPrefix = new(StringComparer.Ordinal)
    {
        ["scaleops.rls."] = "src/ScaleOps.Rls/README.md",
        ["scaleops.jobs."] = "src/ScaleOps.Jobs/README.md",
        ["scaleops.partitioning."] = "src/ScaleOps.Partitioning/README.md",
        ["scaleops.cache."] = "src/ScaleOps.Caching/README.md",
        ["scaleops.resilience."] = "src/ScaleOps.Resilience/README.md",
    };

    [Fact]
    public void The_published_instruments_are_the_golden_ones()
    {
        var services = host.Factory.Services;

        // Each package creates its instruments with its first service: resolve one of each, as any use of it would.
        _ = services.GetRequiredService<ITenantDataSource>();
        _ = services.GetRequiredService<RlsPolicyManager>();
        _ = services.GetRequiredService<IJobClient>();
        _ = services.GetRequiredService<IAuditLog>();
        _ = services.GetRequiredService<ITenantCache>();
        _ = services.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        _ = services.GetRequiredService<CircuitBreakerRegistry>();

        var actual = PublishedInstruments(services.GetRequiredService<IMeterFactory>());
        var golden = ReadGolden();

        var notPublished = golden.Except(actual, StringComparer.Ordinal).ToList();
        var notInGolden = actual.Except(golden, StringComparer.Ordinal).ToList();
        Assert.True(notPublished.Count == 0 && notInGolden.Count == 0, Diff(GoldenPath, notPublished, notInGolden, "Published now", actual));
    }

    [Fact]
    public void Every_golden_instrument_is_in_the_catalogue_with_its_kind_and_unit()
    {
        var golden = ReadGolden();
        var catalogue = CatalogueRows();

        var onlyInCatalogue = catalogue.Except(golden, StringComparer.Ordinal).ToList();
        var notInCatalogue = golden.Except(catalogue, StringComparer.Ordinal).ToList();
        Assert.True(onlyInCatalogue.Count == 0 && notInCatalogue.Count == 0,
            Diff(CatalogPath + " (instrument table)", onlyInCatalogue, notInCatalogue, "In " + GoldenPath, golden));
    }

    [Fact]
    public void Every_golden_instrument_is_named_in_full_in_its_package_readme()
    {
        var absent = new List<string>();
        foreach (var name in ReadGolden().Select(line => line.Split(' ')[0]))
        {
            var readme = ReadmeOfPrefix.Single(p => name.StartsWith(p.Key, StringComparison.Ordinal)).Value;
            if (!Regex.IsMatch(File.ReadAllText(Path.Combine(Root, readme)), $@"`{Regex.Escape(name)}`"))
            {
                absent.Add($"{name} is not named (in backquotes, in full) in {readme}");
            }
        }

        Assert.True(absent.Count == 0, string.Join(Environment.NewLine, absent));
    }

    [Fact]
    public void Every_span_name_in_the_sources_is_in_the_catalogue()
    {
        var catalogue = File.ReadAllText(Path.Combine(Root, CatalogPath));
        var spans = SourceFiles()
            .SelectMany(f => StartActivity().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.Contains("ScaleOps.Jobs.Run", spans); // the pattern finds the spans
        Assert.All(spans, span => Assert.True(catalogue.Contains($"`{span}`", StringComparison.Ordinal),
            $"Span {span} is started in src/ but not listed in {CatalogPath}."));
    }

    [Fact]
    public void Every_metric_and_span_tag_in_the_sources_is_in_the_catalogue()
    {
        var catalogue = File.ReadAllText(Path.Combine(Root, CatalogPath));
        var sources = SourceFiles().ToList();
        var metricTags = sources.Where(f => f.EndsWith("Metrics.cs", StringComparison.Ordinal))
            .SelectMany(f => MetricTag().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value));
        var spanTags = sources.SelectMany(f => SpanTag().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value));
        var tags = metricTags.Concat(spanTags).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

        // The patterns find the tags of each way they are written.
        Assert.Superset(new HashSet<string>(["queue", "level", "breaker", "table", "scaleops.jobs.outcome"]), tags.ToHashSet());
        Assert.All(tags, tag => Assert.True(catalogue.Contains($"`{tag}`", StringComparison.Ordinal),
            $"Tag {tag} is set in src/ but not listed in {CatalogPath}."));
    }

    [Fact]
    public void Every_log_event_id_is_in_its_package_block_and_in_the_catalogue()
    {
        var rows = File.ReadAllLines(Path.Combine(Root, CatalogPath))
            .Select(l => EventIdRow().Match(l))
            .Where(m => m.Success)
            .ToDictionary(m => m.Groups["package"].Value, m => m, StringComparer.Ordinal);
        var ids = SourceFiles()
            .Where(f => f.EndsWith("EventIds.cs", StringComparison.Ordinal))
            .SelectMany(f => EventIdConstant().Matches(File.ReadAllText(f))
                .Select(m => (Package: PackageOf(f), Name: m.Groups[1].Value, Id: int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture))))
            .ToList();

        Assert.Contains(ids, i => i is { Package: "Core", Id: 1001 }); // the pattern finds the ids
        Assert.Contains(ids, i => i is { Package: "Resilience", Id: 6201 });
        Assert.All(ids, i =>
        {
            Assert.True(rows.TryGetValue(i.Package, out var row), $"{CatalogPath} has no event-id row for {i.Package}.");
            var (from, to) = (int.Parse(row.Groups["from"].Value, System.Globalization.CultureInfo.InvariantCulture),
                int.Parse(row.Groups["to"].Value, System.Globalization.CultureInfo.InvariantCulture));
            Assert.True(i.Id >= from && i.Id <= to, $"{i.Package}'s event {i.Name} = {i.Id} is outside its block {from}-{to}.");
            var listed = IdOrRange().Matches(row.Groups["ids"].Value).Any(m =>
            {
                var first = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                var last = m.Groups[2].Success ? int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) : first;
                return i.Id >= first && i.Id <= last;
            });
            Assert.True(listed, $"{i.Package}'s event {i.Name} = {i.Id} is not listed in the event-id table of {CatalogPath}.");
        });
    }

    private static string PackageOf(string path)
    {
        var relative = Path.GetRelativePath(Path.Combine(Root, "src"), path).Replace('\\', '/');
        return relative.Split('/')[0]["ScaleOps.".Length..];
    }

    /// <summary>The instruments of this host's <c>ScaleOps</c> meter, one line each: <c>name kind unit</c>, sorted.</summary>
    private static List<string> PublishedInstruments(IMeterFactory factory)
    {
        var lines = new List<string>();
        using var listener = new MeterListener
        {
            // Other test classes' hosts run in this process too, each with a ScaleOps meter of its own factory.
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == ScaleOpsDiagnostics.MeterName && ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    lock (lines)
                    {
                        lines.Add($"{instrument.Name} {Kind(instrument)} {instrument.Unit}");
                    }
                }
            },
        };
        listener.Start(); // publishes every instrument created so far
        lock (lines)
        {
            return [.. lines.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        }
    }

    private static string Kind(Instrument instrument)
    {
        var type = instrument.GetType();
        var kind = type.Name.Split('`')[0] switch
        {
            "Counter" => "counter",
            "UpDownCounter" => "updowncounter",
            "Histogram" => "histogram",
            "Gauge" => "gauge",
            "ObservableCounter" => "observable_counter",
            "ObservableUpDownCounter" => "observable_updowncounter",
            "ObservableGauge" => "observable_gauge",
            _ => throw new InvalidOperationException($"Unknown instrument type {type} of {instrument.Name}."),
        };
        return $"{kind}<{TypeName(type.GetGenericArguments().Single())}>";
    }

    private static string TypeName(Type type) => type == typeof(long) ? "long" : type == typeof(int) ? "int" : type == typeof(double) ? "double" : type.Name;

    private static List<string> ReadGolden() =>
    [
        .. File.ReadAllLines(Path.Combine(Root, GoldenPath))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#')),
    ];

    /// <summary>The instrument table of the catalogue: rows <c>| `name` | kind | `unit` | ...</c>, as golden lines.</summary>
    private static List<string> CatalogueRows() =>
    [
        .. File.ReadAllLines(Path.Combine(Root, CatalogPath))
            .Select(l => CatalogueRow().Match(l))
            .Where(m => m.Success)
            .Select(m => $"{m.Groups["name"].Value} {m.Groups["kind"].Value} {m.Groups["unit"].Value}")
            .Order(StringComparer.Ordinal),
    ];

    private static string Diff(string file, List<string> onlyInFile, List<string> missingFromFile, string expectedTitle, List<string> expected)
    {
        var message = new StringBuilder()
            .AppendLine($"The ScaleOps meter's instruments differ from {file}.")
            .AppendLine("Update the docs (docs/telemetry.md and the package README) and tests/ScaleOps.SampleHost.Tests/Golden/instruments.txt")
            .AppendLine("together, and for a renamed or changed instrument add a CHANGELOG bullet: dashboards and alerts use these names.");
        foreach (var line in onlyInFile)
        {
            message.AppendLine($"- {line}   (only in {file})");
        }

        foreach (var line in missingFromFile)
        {
            message.AppendLine($"+ {line}   (missing from {file})");
        }

        message.AppendLine(expectedTitle + ":");
        foreach (var line in expected)
        {
            message.AppendLine(line);
        }

        return message.ToString();
    }

    private static IEnumerable<string> SourceFiles() => Directory.GetFiles(Path.Combine(Root, "src"), "*.cs", SearchOption.AllDirectories)
        .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

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

    [GeneratedRegex(@"^\|\s*`(?<name>scaleops\.[a-z0-9_.]+)`\s*\|\s*(?<kind>[a-z_]+<[a-z]+>)\s*\|\s*`(?<unit>[^`]*)`\s*\|")]
    private static partial Regex CatalogueRow();

    [GeneratedRegex(@"StartActivity\(\s*""([^""]+)""")]
    private static partial Regex StartActivity();

    /// <summary>A tag key in a metrics class: <c>KeyValuePair&lt;string, object?&gt;("key"</c>, <c>= new("key"</c>, <c>Tag("key"</c>.</summary>
    [GeneratedRegex(@"(?:KeyValuePair<string, object\?>\(|= new\(|\bTag\()""([a-z][a-z0-9_.]*)""")]
    private static partial Regex MetricTag();

    [GeneratedRegex(@"\.SetTag\(""([^""]+)""")]
    private static partial Regex SpanTag();

    [GeneratedRegex(@"^\|\s*(?<package>[A-Za-z]+)\s*\|\s*(?<from>\d{4})-(?<to>\d{4})\s*\|(?<ids>.*)\|\s*$")]
    private static partial Regex EventIdRow();

    [GeneratedRegex(@"const int ([A-Za-z]+) = (\d+);")]
    private static partial Regex EventIdConstant();

    [GeneratedRegex(@"\b(\d{4})(?:-(\d{4}))?\b")]
    private static partial Regex IdOrRange();
}
