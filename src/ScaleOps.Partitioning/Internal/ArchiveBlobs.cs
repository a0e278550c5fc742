using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Options;
using ScaleOps.Partitioning.Archive;

namespace ScaleOps.Partitioning.Internal;

/// <summary>The archive container: Parquet files and their manifests, named <c>{schema}/{table}/{partition}.parquet</c>.</summary>
internal sealed class ArchiveBlobs(IOptions<PartitioningOptions> options, PartitioningOptionsValidator connection)
{
    private readonly Lazy<BlobContainerClient> _container = new(() =>
    {
        var connectionString = connection.BlobConnectionString(options.Value)
            ?? throw new InvalidOperationException($"Archival needs {PartitioningDefaults.Section}:BlobConnectionString or ConnectionStrings:Blob.");
        var client = new BlobClientOptions();
        client.Retry.NetworkTimeout = options.Value.ArchiveNetworkTimeout; // a silent peer fails a try in this, not in 100 s
        return new BlobContainerClient(connectionString, options.Value.ArchiveContainer, client);
    });

    private const string StampFormat = "yyyyMMdd'T'HHmmssfffffff'Z'";

    private int _created;

    public static string DataName(string schema, string table, string partition) => Prefix(schema, table, partition) + ".parquet";

    public static string ManifestName(string schema, string table, string partition) => Prefix(schema, table, partition) + ".manifest.json";

    public async Task UploadAsync(string name, Stream content, CancellationToken cancellationToken)
    {
        var container = await ContainerAsync(cancellationToken).ConfigureAwait(false);
        await container.GetBlobClient(name).UploadAsync(content, overwrite: true, cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> DownloadAsync(string name, string path, CancellationToken cancellationToken)
    {
        var container = await ContainerAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await container.GetBlobClient(name).DownloadToAsync(path, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return false;
        }
    }

    /// <summary>
    /// The names an earlier archive of a partition is kept under once a later partition of that name is archived:
    /// <c>{schema}/{table}/{partition}.{archivedAt:yyyyMMddTHHmmssfffffffZ}.parquet</c> and <c>.manifest.json</c>.
    /// </summary>
    public static (string Data, string Manifest) EarlierNames(ArchiveManifest earlier)
    {
        var stamp = "." + earlier.ArchivedAt.UtcDateTime.ToString(StampFormat, System.Globalization.CultureInfo.InvariantCulture);
        var prefix = Prefix(earlier.Schema, earlier.Table, earlier.Partition) + stamp;
        return (prefix + ".parquet", prefix + ".manifest.json");
    }

    /// <summary>The manifests of a partition's earlier archives kept under dated names (<see cref="EarlierNames"/>).</summary>
    public async Task<List<string>> EarlierManifestNamesAsync(string schema, string table, string partition, CancellationToken cancellationToken)
    {
        const string Suffix = ".manifest.json";
        var container = await ContainerAsync(cancellationToken).ConfigureAwait(false);
        var prefix = Prefix(schema, table, partition) + ".";
        var names = new List<string>();
        await foreach (var item in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix, cancellationToken).ConfigureAwait(false))
        {
            // Only {partition}.{stamp}.manifest.json: a partition whose own name goes on with a dot shares the prefix.
            var rest = item.Name.AsSpan(prefix.Length);
            if (rest.EndsWith(Suffix, StringComparison.Ordinal) && DateTime.TryParseExact(rest[..^Suffix.Length], StampFormat,
                    System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _))
            {
                names.Add(item.Name);
            }
        }

        return names;
    }

    public Task WriteManifestAsync(ArchiveManifest manifest, CancellationToken cancellationToken) =>
        WriteManifestAsync(manifest, ManifestName(manifest.Schema, manifest.Table, manifest.Partition), cancellationToken);

    public async Task WriteManifestAsync(ArchiveManifest manifest, string name, CancellationToken cancellationToken)
    {
        var container = await ContainerAsync(cancellationToken).ConfigureAwait(false);
        var json = BinaryData.FromObjectAsJson(manifest);
        await container.GetBlobClient(name).UploadAsync(json, overwrite: true, cancellationToken).ConfigureAwait(false);
    }

    public Task<ArchiveManifest?> ReadManifestAsync(string schema, string table, string partition, CancellationToken cancellationToken) =>
        ReadManifestAsync(ManifestName(schema, table, partition), cancellationToken);

    public async Task<ArchiveManifest?> ReadManifestAsync(string name, CancellationToken cancellationToken)
    {
        var container = await ContainerAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var content = await container.GetBlobClient(name).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            return content.Value.Content.ToObjectFromJson<ArchiveManifest>(new JsonSerializerOptions(JsonSerializerDefaults.General));
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    private async Task<BlobContainerClient> ContainerAsync(CancellationToken cancellationToken)
    {
        var container = _container.Value;
        // Marked only once the container exists: marked before, a first call that failed (storage down) left it
        // uncreated until the process restarted. Callers racing here each create it; CreateIfNotExists is idempotent.
        if (Volatile.Read(ref _created) == 0)
        {
            await container.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _created, 1);
        }

        return container;
    }

    private static string Prefix(string schema, string table, string partition) =>
        $"{Uri.EscapeDataString(schema)}/{Uri.EscapeDataString(table)}/{Uri.EscapeDataString(partition)}";
}
