using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;

namespace ScaleOps.Packaging.Tests;

/// <summary>
/// Migrations are never edited once released: the migrator records each script's SHA-256 (of its text, comments
/// included, line endings as LF) and refuses to start a database whose recorded checksum differs ("Add a new migration
/// instead of editing an applied one"). <c>migrations.sha256</c> pins the checksum of every migration script of the
/// packages and the sample host; a new script is appended to it deliberately.
/// </summary>
public sealed class MigrationChecksumTests
{
    private const string Golden = "tests/ScaleOps.Packaging.Tests/migrations.sha256";

    private static readonly string Root = PackedPackages.FindRepositoryRoot();

    private static Dictionary<string, string> OnDisk() =>
        new[] { "src", "samples" }
            .SelectMany(top => Directory.EnumerateFiles(Path.Combine(Root, top), "*.sql", SearchOption.AllDirectories))
            .Select(path => Path.GetRelativePath(Root, path).Replace('\\', '/'))
            .Where(path => path.Contains("/Sql/Migrations/", StringComparison.Ordinal) && !path.Contains("/obj/", StringComparison.Ordinal)
                && !path.Contains("/bin/", StringComparison.Ordinal))
            .ToDictionary(path => path, Checksum, StringComparer.Ordinal);

    private static Dictionary<string, string> Recorded() =>
        File.ReadAllLines(Path.Combine(Root, Golden))
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line.Split(' ', 2, StringSplitOptions.TrimEntries))
            .ToDictionary(parts => parts[0], parts => parts[1], StringComparer.Ordinal);

    /// <summary>The checksum the migrator records (MigrationSet.FromAssembly): SHA-256 of the UTF-8 text, CRLF as LF.</summary>
    private static string Checksum(string relativePath)
    {
        var sql = File.ReadAllText(Path.Combine(Root, relativePath), Encoding.UTF8).Replace("\r\n", "\n", StringComparison.Ordinal);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql)));
    }

    [Fact]
    public void No_recorded_migration_was_edited_or_removed()
    {
        var onDisk = OnDisk();
        var problems = Recorded()
            .Where(r => !onDisk.TryGetValue(r.Key, out var now) || now != r.Value)
            .Select(r => onDisk.TryGetValue(r.Key, out var now)
                ? $"{r.Key} was edited (recorded {r.Value}, now {now}): a database that applied it no longer starts. Restore it and add a new migration."
                : $"{r.Key} was removed or renamed: a database that applied it no longer matches. Restore it.")
            .ToList();
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void Every_migration_script_is_recorded()
    {
        var recorded = Recorded();
        var missing = OnDisk().Where(d => !recorded.ContainsKey(d.Key)).Select(d => $"{d.Key} {d.Value}").Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, $"New migration scripts: append these lines to {Golden} (once appended, a script never changes):"
            + Environment.NewLine + string.Join(Environment.NewLine, missing));
    }
}
