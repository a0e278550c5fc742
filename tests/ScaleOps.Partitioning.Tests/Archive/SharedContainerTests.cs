using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using ScaleOps.Migrations;
using ScaleOps.Partitioning.Archive;
using ScaleOps.Partitioning.Internal;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Archive;

/// <summary>
/// Two databases archiving into one container (staging and production on one storage account with the default
/// <c>scaleops-archive</c>, two shards). Both are cloned from one template that holds the table and its partition, as two
/// databases built by the same migrations on fresh clusters can be: the partition has the same <c>pg_class</c> oid in
/// both, so <see cref="ArchiveManifest.RelationId"/> alone does not tell their archives apart.
/// </summary>
public sealed class SharedContainerTests : IAsyncLifetime
{
    private const string Partition = "sa_events_p2026_09";
    private readonly string _container = "shared-" + Guid.NewGuid().ToString("N");
    private readonly List<IHost> _hosts = [];
    private string _a = "";
    private string _b = "";

    public async Task InitializeAsync()
    {
        _a = await PostgresServer.CreateDatabaseAsync(nameof(SharedContainerTests), TemplateAsync);
        _b = await PostgresServer.CreateDatabaseAsync(nameof(SharedContainerTests), TemplateAsync);
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            host.Dispose();
        }

        await PostgresServer.DropDatabaseAsync(_a);
        await PostgresServer.DropDatabaseAsync(_b);
    }

    private static Task TemplateAsync(string template) => PostgresServer.ExecuteAsync(
        "CREATE TABLE sa_events (id bigint NOT NULL, created_at timestamptz NOT NULL, body text) PARTITION BY RANGE (created_at);"
        + $"CREATE TABLE {Partition} PARTITION OF sa_events FOR VALUES FROM ('2026-09-01 00:00:00+00') TO ('2026-10-01 00:00:00+00');",
        template);

    /// <summary>A host on the database (its ScaleOps schema migrated) whose partition holds <paramref name="rows"/> rows saying whose they are.</summary>
    private async Task<(PartitionArchiver Archiver, NpgsqlDataSource Data, Guid Id, IHost Host)> DatabaseAsync(string database, int rows, int hour = 0, string? body = null, bool migrate = true)
    {
        var blob = await TcpServer.BlobAsync();
        var host = TestHost.Build(PostgresServer.ConnectionStringFor(database), o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.BlobConnectionString = blob;
            o.ArchiveContainer = _container;
            o.Tables.Add(new PartitionedTableOptions { Name = "sa_events", Column = "created_at", Premake = 2, Retention = 2, Archive = true });
        }, new FakeTimeProvider(TestHost.Monday.AddHours(hour)), services: s => s.AddFakeLogging());
        _hosts.Add(host);
        if (migrate)
        {
            await host.Services.GetRequiredService<IScaleOpsMigrator>().MigrateAsync();
        }

        var data = host.Services.GetRequiredService<NpgsqlDataSource>();
        await data.ExecAsync(
            $"INSERT INTO sa_events SELECT g, timestamptz '2026-09-02' + g * interval '1 day', '{body ?? "row of " + database}' FROM generate_series(1, {rows}) g");
        var id = migrate ? await data.ScalarAsync<Guid>("SELECT id FROM scaleops.archive_identity") : Guid.Empty;
        return (host.Services.GetRequiredService<PartitionArchiver>(), data, id, host);
    }

    private async Task<List<ArchiveManifest>> ManifestsAsync()
    {
        var container = new BlobContainerClient(await TcpServer.BlobAsync(), _container);
        var manifests = new List<ArchiveManifest>();
        await foreach (var item in container.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, $"public/sa_events/{Partition}.", default))
        {
            if (item.Name.EndsWith(".manifest.json", StringComparison.Ordinal))
            {
                manifests.Add((await container.GetBlobClient(item.Name).DownloadContentAsync()).Value.Content.ToObjectFromJson<ArchiveManifest>()!);
            }
        }

        return manifests;
    }

    /// <summary>
    /// A archived and dropped its partition (the archive is now the only copy of its rows); B then archived its
    /// partition of the same name and, the oid being equal, wrote its archive over A's: A's rows were gone.
    /// </summary>
    [Fact]
    public async Task Another_database_archiving_a_partition_of_the_same_name_and_oid_keeps_the_first_archive()
    {
        var (archiverA, _, idA, _) = await DatabaseAsync(_a, rows: 3);
        var (archiverB, _, idB, hostB) = await DatabaseAsync(_b, rows: 2, hour: 1);
        Assert.NotEqual(idA, idB);

        var a = await archiverA.ArchiveAsync("public", "sa_events", Partition);
        var b = await archiverB.ArchiveAsync("public", "sa_events", Partition);
        Assert.Equal(a.RelationId, b.RelationId); // the case the oid alone cannot tell apart
        Assert.Equal(idA, a.DatabaseId);
        Assert.Equal(idB, b.DatabaseId);

        var manifests = await ManifestsAsync();
        var kept = manifests.SingleOrDefault(m => m.RowChecksum == a.RowChecksum);
        Assert.True(kept is not null, $"A's archive ({a.Rows} rows) must still be in the container; it holds: "
            + string.Join(", ", manifests.Select(m => $"{m.Blob} ({m.Rows} rows)")));
        Assert.Equal(3, kept.Rows);
        Assert.Equal(idA, kept.DatabaseId);
        Assert.Equal(ArchiveBlobs.EarlierNames(a).Data, kept.Blob);
        Assert.True(await archiverA.VerifyAsync(kept, default));
        var main = Assert.Single(manifests, m => m.Blob == ArchiveBlobs.DataName("public", "sa_events", Partition));
        Assert.Equal(b.RowChecksum, main.RowChecksum);
        Assert.Equal(2, manifests.Count);

        // Logged once (4023, a warning) naming both databases, the kept archive's name and the fix.
        var logged = Assert.Single(hostB.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 4023);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, logged.Level);
        Assert.StartsWith($"Partition {Partition} was archived into this container by another database (archive identity {idA}; this database's is {idB}) "
            + "(3 rows at ", logged.Message, StringComparison.Ordinal);
        Assert.EndsWith($"; that archive is kept as {ArchiveBlobs.EarlierNames(a).Manifest}. Give each database its own ArchiveContainer",
            logged.Message, StringComparison.Ordinal);

        // B archiving again (a rerun) reuses its own archive and keeps A's where it is.
        Assert.Equal(b.FileSha256, (await archiverB.ArchiveAsync("public", "sa_events", Partition)).FileSha256);
        Assert.Equal(2, (await ManifestsAsync()).Count);
    }

    /// <summary>B, given A's archive under the partition's name, restored A's rows as its own.</summary>
    [Fact]
    public async Task A_restore_of_another_databases_archive_is_refused_unless_allowed()
    {
        var (archiverA, dataA, idA, _) = await DatabaseAsync(_a, rows: 3);
        var (archiverB, dataB, idB, _) = await DatabaseAsync(_b, rows: 2, hour: 1);
        var a = await archiverA.ArchiveAsync("public", "sa_events", Partition);
        await dataB.ExecAsync($"DROP TABLE {Partition}");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => archiverB.RestoreAsync("public", "sa_events", Partition));
        Assert.Equal(
            $"The archive of {Partition} of \"public\".\"sa_events\" (public/sa_events/{Partition}.manifest.json, 3 rows archived at {a.ArchivedAt:O}) "
            + $"was written by another database: its archive identity is {idA}, this database's is {idB}. Nothing was restored. Two databases "
            + "archive into one container: give each its own ScaleOps:Partitioning:ArchiveContainer. No archive of this database's is kept next "
            + $"to it under a dated name ({Partition}.{{ArchivedAt}}.manifest.json), where one another database's replaced would be. To restore the "
            + "other database's rows here on purpose (a new database after a logical migration), pass allowOtherDatabase: true.", error.Message);
        Assert.Equal(0L, await dataB.ScalarAsync<long>("SELECT count(*) FROM sa_events"));
        Assert.False(await dataB.ScalarAsync<bool>($"SELECT to_regclass('{Partition}') IS NOT NULL"));

        // Asked for, the other database's rows are restored here; the archive stays A's, and A still restores it.
        Assert.Equal(3, await archiverB.RestoreAsync("public", "sa_events", Partition, allowOtherDatabase: true));
        Assert.Equal([$"row of {_a}"], await dataB.ColumnAsync("SELECT DISTINCT body FROM sa_events"));
        var after = await archiverB.GetManifestAsync("public", "sa_events", Partition);
        Assert.Equal(idA, after!.DatabaseId);
        Assert.Equal(a.RelationId, after.RelationId);
        Assert.Equal(3, await archiverA.RestoreAsync("public", "sa_events", Partition));
        Assert.Equal([$"row of {_a}"], await dataA.ColumnAsync("SELECT DISTINCT body FROM sa_events"));
    }

    /// <summary>
    /// A archived and dropped its partition; B then archived its own of that name, and A's archive was kept under the dated
    /// name. A's restore found B's archive at the partition's name and was refused: A's own rows needed the blobs copied
    /// back by hand.
    /// </summary>
    [Fact]
    public async Task A_restore_finds_this_databases_archive_kept_under_the_dated_name()
    {
        var (archiverA, dataA, _, hostA) = await DatabaseAsync(_a, rows: 3);
        var (archiverB, dataB, idB, _) = await DatabaseAsync(_b, rows: 2, hour: 1);
        var a = await archiverA.ArchiveAsync("public", "sa_events", Partition); // archived, then dropped: the archive is all there is
        var b = await archiverB.ArchiveAsync("public", "sa_events", Partition);
        Assert.False(await dataA.ScalarAsync<bool>($"SELECT to_regclass('{Partition}') IS NOT NULL"));

        Assert.Equal(3, await archiverA.RestoreAsync("public", "sa_events", Partition));
        Assert.Equal([$"row of {_a}"], await dataA.ColumnAsync("SELECT DISTINCT body FROM sa_events"));
        var logged = Assert.Single(hostA.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 4024);
        Assert.Equal($"Partition {Partition} is restored from this database's archive kept as {ArchiveBlobs.EarlierNames(a).Manifest}: the partition's "
            + $"name holds another database's (archive identity {idB})", logged.Message);

        // B's archive is untouched at the partition's name, and B still restores its own rows from it.
        var main = await archiverB.GetManifestAsync("public", "sa_events", Partition);
        Assert.Equal((b.RowChecksum, b.FileSha256, idB), (main!.RowChecksum, main.FileSha256, main.DatabaseId));
        Assert.Equal(2, (await ManifestsAsync()).Count);
        Assert.Equal(2, await archiverB.RestoreAsync("public", "sa_events", Partition));
        Assert.Equal([$"row of {_b}"], await dataB.ColumnAsync("SELECT DISTINCT body FROM sa_events"));
    }

    /// <summary>
    /// A crashed after detaching its partition; B, whose rows are the same, archived its partition of that name in
    /// between. A's rerun found a verified manifest whose rows its detached table matched, B's, and dropped the table:
    /// its own archive moved aside, A's restore was then refused as another database's.
    /// </summary>
    [Fact]
    public async Task A_rerun_after_the_detach_does_not_drop_on_another_databases_archive()
    {
        var (archiverA, dataA, _, _) = await DatabaseAsync(_a, rows: 3, body: "same");
        var (archiverB, _, _, _) = await DatabaseAsync(_b, rows: 3, hour: 1, body: "same");
        archiverA.Fault = step => step == ArchiveStep.Detached ? throw new System.IO.IOException("simulated crash after the detach") : Task.CompletedTask;
        await Assert.ThrowsAsync<System.IO.IOException>(() => archiverA.ArchiveAsync("public", "sa_events", Partition));
        archiverA.Fault = null;
        var b = await archiverB.ArchiveAsync("public", "sa_events", Partition);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => archiverA.ArchiveAsync("public", "sa_events", Partition));
        Assert.Contains($"its archive in the container was written by another database (archive identity {b.DatabaseId}", error.Message, StringComparison.Ordinal);
        Assert.Equal(3L, await dataA.ScalarAsync<long>($"SELECT count(*) FROM {Partition}"));
    }

    /// <summary>
    /// The dated name says when, not which database: with both clocks at the same instant, A's archive was kept under
    /// the name B's would be kept under. A, archiving its partition again (B's rows restored into it on purpose), took
    /// A's own copy there for the copy of B's archive and wrote over B's: B's rows were gone.
    /// </summary>
    [Fact]
    public async Task An_archive_is_refused_when_the_dated_name_holds_another_archive()
    {
        var (archiverA, dataA, _, _) = await DatabaseAsync(_a, rows: 3);
        var (archiverB, _, _, _) = await DatabaseAsync(_b, rows: 2); // the same instant as A
        var a = await archiverA.ArchiveAsync("public", "sa_events", Partition);
        var b = await archiverB.ArchiveAsync("public", "sa_events", Partition);
        Assert.Equal(a.ArchivedAt, b.ArchivedAt);
        Assert.Equal(2, await archiverA.RestoreAsync("public", "sa_events", Partition, allowOtherDatabase: true));
        await dataA.ExecAsync($"UPDATE sa_events SET body = 'changed in {_a}'");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => archiverA.ArchiveAsync("public", "sa_events", Partition));
        Assert.Contains($"{ArchiveBlobs.EarlierNames(b).Manifest} already holds another archive of {Partition} (3 rows)", error.Message, StringComparison.Ordinal);
        var manifests = await ManifestsAsync();
        Assert.Equal(2, manifests.Count);
        Assert.Contains(manifests, m => m.RowChecksum == a.RowChecksum);
        Assert.Contains(manifests, m => m.RowChecksum == b.RowChecksum);
        Assert.Equal(2L, await dataA.ScalarAsync<long>($"SELECT count(*) FROM {Partition}"));
    }

    /// <summary>Without the migration that makes the archive identity, archiving says so and touches nothing.</summary>
    [Fact]
    public async Task Without_the_archive_identity_migration_archiving_is_refused()
    {
        var (archiverA, dataA, _, _) = await DatabaseAsync(_a, rows: 3, migrate: false);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => archiverA.ArchiveAsync("public", "sa_events", Partition));
        Assert.StartsWith("\"scaleops\".archive_identity does not exist: the migration partitioning/2 that makes this database's archive identity has not "
            + "been applied", error.Message, StringComparison.Ordinal);
        Assert.Equal(3L, await dataA.ScalarAsync<long>($"SELECT count(*) FROM {Partition}"));
    }

    /// <summary>A manifest written before DatabaseId (none in it) restores as before, in any database.</summary>
    [Fact]
    public async Task A_manifest_written_before_the_database_was_recorded_still_restores()
    {
        var (archiverA, _, _, _) = await DatabaseAsync(_a, rows: 3);
        var (archiverB, dataB, _, _) = await DatabaseAsync(_b, rows: 2, hour: 1);
        var a = await archiverA.ArchiveAsync("public", "sa_events", Partition);
        var container = new BlobContainerClient(await TcpServer.BlobAsync(), _container);
        var manifest = container.GetBlobClient(ArchiveBlobs.ManifestName("public", "sa_events", Partition));
        var json = System.Text.Json.Nodes.JsonNode.Parse((await manifest.DownloadContentAsync()).Value.Content.ToString())!.AsObject();
        Assert.True(json.Remove(nameof(ArchiveManifest.DatabaseId)));
        await manifest.UploadAsync(BinaryData.FromString(json.ToJsonString()), overwrite: true);
        Assert.Null((await archiverB.GetManifestAsync("public", "sa_events", Partition))!.DatabaseId);
        await dataB.ExecAsync($"DROP TABLE {Partition}");

        Assert.Equal(3, await archiverB.RestoreAsync("public", "sa_events", Partition));
        Assert.Equal([$"row of {_a}"], await dataB.ColumnAsync("SELECT DISTINCT body FROM sa_events"));
        var after = await archiverB.GetManifestAsync("public", "sa_events", Partition);
        Assert.Null(after!.DatabaseId); // as before: the restore rewrote it with the restored table's oid, nothing more
        Assert.Equal(a.RowChecksum, after.RowChecksum);
    }
}
