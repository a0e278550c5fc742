using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;

namespace ScaleOps.Packaging.Tests;

/// <summary>A .nupkg (or .snupkg) read as what it is, a zip: its entries, its .nuspec, the assembly inside.</summary>
public sealed class PackageFile : IDisposable
{
    private readonly ZipArchive _zip;

    public PackageFile(string path)
    {
        Path = path;
        _zip = ZipFile.OpenRead(path);
        var nuspec = _zip.Entries.Single(e => !e.FullName.Contains('/', StringComparison.Ordinal) && e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var stream = nuspec.Open();
        Nuspec = XDocument.Load(stream);
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>The package's manifest.</summary>
    public XDocument Nuspec { get; }

    /// <summary>The entry names, without the packaging's own (<c>_rels/</c>, <c>package/</c>, <c>[Content_Types].xml</c>).</summary>
    public IReadOnlyList<string> Files =>
        [.. _zip.Entries.Select(e => e.FullName)
            .Where(n => !n.StartsWith("_rels/", StringComparison.Ordinal) && !n.StartsWith("package/", StringComparison.Ordinal)
                && n != "[Content_Types].xml")
            .Order(StringComparer.Ordinal)];

    /// <summary>A metadata element of the .nuspec (<c>id</c>, <c>version</c>, <c>readme</c>...), or null.</summary>
    public string? Metadata(string name) =>
        Nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata").Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value;

    /// <summary>The license element (<c>type</c>, value).</summary>
    public (string? Type, string? Value) License()
    {
        var license = Nuspec.Root!.Descendants().FirstOrDefault(e => e.Name.LocalName == "license");
        return ((string?)license?.Attribute("type"), license?.Value);
    }

    /// <summary>The dependency groups: target framework and its dependencies (id, version range as written).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<(string Id, string Version)>> DependencyGroups() =>
        Nuspec.Root!.Descendants().Where(e => e.Name.LocalName == "group" && e.Parent?.Name.LocalName == "dependencies")
            .ToDictionary(
                g => (string?)g.Attribute("targetFramework") ?? "",
                g => (IReadOnlyList<(string, string)>)[.. g.Elements().Select(d => ((string)d.Attribute("id")!, (string)d.Attribute("version")!))],
                StringComparer.Ordinal);

    /// <summary>The bytes of an entry.</summary>
    public byte[] Read(string entry)
    {
        var found = _zip.GetEntry(entry) ?? throw new InvalidOperationException($"{System.IO.Path.GetFileName(Path)} has no entry {entry}.");
        using var stream = found.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>The manifest resource names of an assembly entry, read from its metadata (the assembly is not loaded).</summary>
    public IReadOnlyList<string> ManifestResources(string assemblyEntry)
    {
        using var pe = new PEReader(new MemoryStream(Read(assemblyEntry)));
        var metadata = pe.GetMetadataReader();
        return [.. metadata.ManifestResources.Select(h => metadata.GetString(metadata.GetManifestResource(h).Name)).Order(StringComparer.Ordinal)];
    }

    /// <summary>The informational version of an assembly entry (<c>AssemblyInformationalVersionAttribute</c>), or null.</summary>
    public string? InformationalVersion(string assemblyEntry)
    {
        using var pe = new PEReader(new MemoryStream(Read(assemblyEntry)));
        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = metadata.GetCustomAttribute(handle);
            if (attribute.Constructor.Kind != HandleKind.MemberReference)
            {
                continue;
            }

            var type = metadata.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent;
            if (type.Kind == HandleKind.TypeReference
                && metadata.GetString(metadata.GetTypeReference((TypeReferenceHandle)type).Name) == "AssemblyInformationalVersionAttribute")
            {
                // The blob: prolog 0x0001, then one SerString.
                var reader = metadata.GetBlobReader(attribute.Value);
                reader.ReadUInt16();
                return reader.ReadSerializedString();
            }
        }

        return null;
    }

    public void Dispose() => _zip.Dispose();
}
