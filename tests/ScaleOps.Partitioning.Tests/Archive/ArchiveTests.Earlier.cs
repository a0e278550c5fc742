using System;
using System.Linq;
using System.Threading.Tasks;
using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Partitioning.Archive;
using ScaleOps.Partitioning.Internal;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Archive;

public partial class ArchiveTests
{
    /// <summary>
    /// A partition archived and dropped, then made again under the same name (late rows of its period moved out of a
    /// default partition), then archived again: the second export was uploaded over the first archive's blob and its
    /// manifest, so the first partition's rows, whose only copy that archive was, were gone. The earlier archive is kept
    /// (under a dated name, verified) and the new one takes the partition's name.
    /// </summary>
    [Fact]
    public async Task Archiving_a_later_partition_of_the_same_name_keeps_the_earlier_archive()
    {
        var (host, _, _) = await TableAsync("ar_again", rows: 50, services: s => s.AddFakeLogging());
        using var _ = host;
        const string partition = "ar_again_p2026_09";
        var maintenance = host.Services.GetRequiredService<IPartitionMaintenance>();
        var archiver = host.Services.GetRequiredService<PartitionArchiver>();
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        var first = await archiver.GetManifestAsync("public", "ar_again", partition);
        Assert.Equal(50, first!.Rows);
        Assert.False(await ExistsAsync(partition));

        // Late rows of September land in a default partition; maintenance moves them into a new ar_again_p2026_09,
        // which is past retention, so the next run archives and drops it in turn.
        await database.DataSource.ExecAsync(
            "CREATE TABLE ar_again_default PARTITION OF ar_again DEFAULT;"
            + "INSERT INTO ar_again (id, created_at, body) SELECT g, timestamptz '2026-09-20' + g * interval '1 minute', 'late' FROM generate_series(1001, 1005) g");
        var moved = await maintenance.RunMaintenanceAsync();
        Assert.Empty(moved.Failures);
        Assert.Contains(moved.Actions, a => a.Kind == PartitionActionKind.MoveFromDefault && a.Partition == partition && a.Rows == 5);
        var second = await maintenance.RunMaintenanceAsync();
        Assert.Empty(second.Failures);
        Assert.Contains(second.Actions, a => a.Kind == PartitionActionKind.Drop && a.Partition == partition);
        Assert.Equal(5, (await archiver.GetManifestAsync("public", "ar_again", partition))!.Rows);

        // The first archive is still there and still verifies: its 50 rows are not lost.
        var container = new BlobContainerClient(await TcpServer.BlobAsync(), _container);
        var manifests = container.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, $"public/ar_again/{partition}.", default).ToBlockingEnumerable()
            .Select(b => b.Name).Where(n => n.EndsWith(".manifest.json", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, manifests.Count);
        var kept = (await container.GetBlobClient(manifests.Single(n => n != ArchiveBlobs.ManifestName("public", "ar_again", partition)))
            .DownloadContentAsync()).Value.Content.ToObjectFromJson<ArchiveManifest>();
        Assert.Equal(50, kept!.Rows);
        Assert.Equal(first.RowChecksum, kept.RowChecksum);
        Assert.NotEqual(first.Blob, kept.Blob);
        Assert.True(await archiver.VerifyAsync(kept, default));

        // Logged once (4022, a warning) naming the partition, the earlier archive's rows and the name it is kept under.
        var logged = Assert.Single(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 4022);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, logged.Level);
        Assert.StartsWith($"Partition {partition} was archived before from another table of that name (50 rows at ", logged.Message, StringComparison.Ordinal);
        Assert.EndsWith("; that archive is kept as " + manifests.Single(n => n != ArchiveBlobs.ManifestName("public", "ar_again", partition)),
            logged.Message, StringComparison.Ordinal);
    }
}
