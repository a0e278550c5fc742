using System;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Partitioning.Archive;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Archive;

public partial class ArchiveTests
{
    /// <summary>
    /// A catch-all partition bounded <c>FROM (MINVALUE)</c> or <c>FROM ('-infinity')</c>, archived directly (retention
    /// leaves it alone): the manifest recorded its lower bound as 0001-01-01, and the restore attached it
    /// <c>FROM ('0001-01-01')</c>, which its rows of <c>-infinity</c> and BC broke (the restore failed, 23514), and which
    /// otherwise silently gave back another partition than the one archived. It comes back with its own bound, and its
    /// manifest gives no From (it gave 0001-01-01 next to LowerBound, a range its rows of -infinity and BC lie outside of).
    /// </summary>
    [Theory]
    [InlineData("ar_minvalue", "MINVALUE", "(101, '-infinity', 'minus infinity'), (102, '0044-03-15 12:00:00+00 BC', 'ides'), (103, '1999-12-31 23:59:59.999999+00', 'last')")]
    [InlineData("ar_mininf", "'-infinity'", "(101, '-infinity', 'minus infinity'), (102, '0044-03-15 12:00:00+00 BC', 'ides'), (103, '1999-12-31 23:59:59.999999+00', 'last')")]
    [InlineData("ar_minplain", "MINVALUE", "(101, '1999-12-31 23:59:59.999999+00', 'last'), (102, '0001-01-01 00:00:00+00', 'year one')")]
    public async Task A_partition_bounded_below_by_minvalue_or_minus_infinity_is_restored_with_that_bound(string name, string bound, string values)
    {
        var (host, _, _) = await TableAsync(name, rows: 5);
        using var _ = host;
        await database.DataSource.ExecAsync(
            $"CREATE TABLE {name}_old PARTITION OF {name} FOR VALUES FROM ({bound}) TO ('2026-09-01 00:00+00');"
            + $"INSERT INTO {name} (id, created_at, body) VALUES {values}");
        var checksum = await ChecksumAsync(name);
        var rows = await CountAsync(name + "_old");
        var archiver = host.Services.GetRequiredService<IPartitionArchiver>();

        var manifest = await archiver.ArchiveAsync("public", name, name + "_old");
        Assert.Equal(rows, manifest.Rows);
        // The manifest says what the partition held: no From (it was 0001-01-01, a range its rows of -infinity and BC lie
        // outside of), the bound as it was, and the upper bound.
        Assert.Null(manifest.From);
        Assert.Equal(bound.Trim('\''), manifest.LowerBound);
        Assert.Equal(new DateTime(2026, 9, 1, 0, 0, 0, DateTimeKind.Utc), manifest.To);
        var blob = new BlobContainerClient(await TcpServer.BlobAsync(), _container).GetBlobClient(Internal.ArchiveBlobs.ManifestName("public", name, name + "_old"));
        var json = JsonNode.Parse((await blob.DownloadContentAsync()).Value.Content.ToString())!.AsObject();
        Assert.True(json.ContainsKey("From"));
        Assert.Null(json["From"]);
        Assert.Equal(manifest.LowerBound, json["LowerBound"]!.GetValue<string>());
        Assert.False(await ExistsAsync(name + "_old"));

        Assert.Equal(rows, await archiver.RestoreAsync("public", name, name + "_old"));
        Assert.Contains($"{name}_old FOR VALUES FROM ({bound}) TO ('2026-09-01 00:00:00+00')", await database.DataSource.PartitionsAsync("public." + name));
        Assert.Equal(checksum, await ChecksumAsync(name));
    }

    /// <summary>
    /// A manifest written before the lower bound was recorded, of a partition bounded <c>FROM (MINVALUE)</c>: its From is
    /// 0001-01-01, which says nothing of the bound it had. The restore is refused, naming the manifest and what to set,
    /// and nothing is restored; once <c>LowerBound</c> is set, it restores with that bound.
    /// </summary>
    [Fact]
    public async Task A_manifest_without_its_lower_bound_that_gives_year_one_is_refused_until_the_bound_is_set()
    {
        const string name = "ar_minold";
        var (host, _, _) = await TableAsync(name, rows: 5);
        using var _ = host;
        await database.DataSource.ExecAsync(
            $"CREATE TABLE {name}_old PARTITION OF {name} FOR VALUES FROM (MINVALUE) TO ('2026-09-01 00:00+00');"
            + $"INSERT INTO {name} (id, created_at, body) VALUES (101, '-infinity', 'minus infinity'), (102, '1999-12-31', 'last')");
        var archiver = host.Services.GetRequiredService<IPartitionArchiver>();
        Assert.Equal("MINVALUE", (await archiver.ArchiveAsync("public", name, name + "_old")).LowerBound);

        // What an older version wrote: no LowerBound, From 0001-01-01 (now From is null).
        var blob = new BlobContainerClient(await TcpServer.BlobAsync(), _container).GetBlobClient(Internal.ArchiveBlobs.ManifestName("public", name, name + "_old"));
        var json = JsonNode.Parse((await blob.DownloadContentAsync()).Value.Content.ToString())!.AsObject();
        Assert.Null(json["From"]);
        json["From"] = "0001-01-01T00:00:00";
        json.Remove("LowerBound");
        await blob.UploadAsync(BinaryData.FromString(json.ToJsonString()), overwrite: true);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => archiver.RestoreAsync("public", name, name + "_old"));
        Assert.Contains(blob.Name, error.Message, StringComparison.Ordinal);
        Assert.Contains("Set \"LowerBound\" in that manifest to \"MINVALUE\" or \"-infinity\"", error.Message, StringComparison.Ordinal);
        Assert.False(await ExistsAsync(name + "_old"));

        json["LowerBound"] = "MINVALUE";
        await blob.UploadAsync(BinaryData.FromString(json.ToJsonString()), overwrite: true);
        Assert.Equal(2, await archiver.RestoreAsync("public", name, name + "_old"));
        Assert.Contains($"{name}_old FOR VALUES FROM (MINVALUE) TO ('2026-09-01 00:00:00+00')", await database.DataSource.PartitionsAsync("public." + name));

        // Archived again while such a manifest is there (its rows still match): not reused as it is, but written again
        // with the bound, so its next restore needs no help.
        json = JsonNode.Parse((await blob.DownloadContentAsync()).Value.Content.ToString())!.AsObject();
        json["From"] = "0001-01-01T00:00:00";
        json.Remove("LowerBound");
        await blob.UploadAsync(BinaryData.FromString(json.ToJsonString()), overwrite: true);
        Assert.Equal("MINVALUE", (await archiver.ArchiveAsync("public", name, name + "_old")).LowerBound);
        Assert.Equal("MINVALUE", (await archiver.GetManifestAsync("public", name, name + "_old"))!.LowerBound);
    }
}
