using System;
using System.IO;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Azure;
using Azure.Storage.Blobs;
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
        return new BlobContainerClient(connectionString, options.Value.ArchiveContainer);
    });

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

    public async Task WriteManifestAsync(ArchiveManifest manifest, CancellationToken cancellationToken)
    {
        var container = await ContainerAsync(cancellationToken).ConfigureAwait(false);
        var json = BinaryData.FromObjectAsJson(manifest);
        await container.GetBlobClient(ManifestName(manifest.Schema, manifest.Table, manifest.Partition))
            .UploadAsync(json, overwrite: true, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ArchiveManifest?> ReadManifestAsync(string schema, string table, string partition, CancellationToken cancellationToken)
    {
        var container = await ContainerAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var content = await container.GetBlobClient(ManifestName(schema, table, partition)).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
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
