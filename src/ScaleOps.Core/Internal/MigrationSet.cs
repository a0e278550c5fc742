using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using ScaleOps.Migrations;

namespace ScaleOps.Internal;

/// <summary>One migration script: version, name, text and checksum.</summary>
internal sealed record MigrationScript(int Version, string Name, string Sql, string Checksum);

/// <summary>The ordered migration scripts of one component, read from embedded resources.</summary>
internal sealed class MigrationSet
{
    /// <summary>The placeholder replaced by the quoted ScaleOps schema in every script.</summary>
    public const string SchemaPlaceholder = "{{schema}}";

    public MigrationSet(string component, IReadOnlyList<MigrationScript> scripts, string? source = null)
    {
        Component = component;
        Scripts = scripts;
        Source = source ?? component;
    }

    public string Component { get; }

    /// <summary>Where the scripts come from (assembly and resource prefix), for messages.</summary>
    public string Source { get; }

    /// <summary>Whether both sets hold the same scripts (versions, names and checksums).</summary>
    public bool HasSameScripts(MigrationSet other) =>
        Scripts.Count == other.Scripts.Count && Scripts.Zip(other.Scripts).All(p => p.First == p.Second);

    public IReadOnlyList<MigrationScript> Scripts { get; }

    public static MigrationSet FromAssembly(string component, Assembly assembly, string resourcePrefix)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(component);
        ArgumentNullException.ThrowIfNull(assembly);
        ArgumentException.ThrowIfNullOrEmpty(resourcePrefix);

        var scripts = new List<MigrationScript>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(resourcePrefix, StringComparison.Ordinal)
                     && n.EndsWith(".sql", StringComparison.Ordinal)))
        {
            var fileName = resource[resourcePrefix.Length..^".sql".Length];
            var underscore = fileName.IndexOf('_', StringComparison.Ordinal);
            if (underscore <= 0 || !int.TryParse(fileName.AsSpan(0, underscore), NumberStyles.None, CultureInfo.InvariantCulture, out var version)
                || version <= 0)
            {
                throw new MigrationException(
                    $"Migration resource '{resource}' of component '{component}' must be named NNNN_name.sql with a positive version.");
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var sql = reader.ReadToEnd().Replace("\r\n", "\n", StringComparison.Ordinal);
            var checksum = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql)));
            scripts.Add(new MigrationScript(version, fileName[(underscore + 1)..], sql, checksum));
        }

        var duplicate = scripts.GroupBy(s => s.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new MigrationException($"Component '{component}' has two migrations with version {duplicate.Key}.");
        }

        if (scripts.Count == 0)
        {
            throw new MigrationException($"Component '{component}' has no migrations under the resource prefix '{resourcePrefix}' in {assembly.GetName().Name}.");
        }

        return new MigrationSet(component, [.. scripts.OrderBy(s => s.Version)], $"{assembly.GetName().Name} '{resourcePrefix}'");
    }
}
