using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Partitioning.Archive;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Archive;

/// <summary>Blob storage going away in the middle of a restore.</summary>
public partial class ArchiveTests
{
    [Fact]
    public async Task A_restore_whose_manifest_update_failed_after_the_rows_were_attached_finishes_when_run_again()
    {
        const string name = "ar_restore_outage";
        const string partition = name + "_p2026_09";
        var azurite = await TcpServer.BlobAsync();
        var start = azurite.IndexOf("BlobEndpoint=", StringComparison.Ordinal) + "BlobEndpoint=".Length;
        var end = azurite.IndexOf(';', start);
        var endpoint = new Uri(end < 0 ? azurite[start..] : azurite[start..end]);
        FaultyTcpProxy? storage = new FaultyTcpProxy(endpoint.Host, endpoint.Port, FaultyTcpProxy.ProxyMode.Forward);
        var port = storage.Port;
        var proxied = azurite.Replace($"BlobEndpoint={endpoint.GetLeftPart(UriPartial.Authority)}", $"BlobEndpoint=http://127.0.0.1:{port}", StringComparison.Ordinal);
        Assert.NotEqual(azurite, proxied);
        try
        {
            var (host, _, checksum) = await TableAsync(name, configure: o =>
            {
                o.BlobConnectionString = proxied;
                o.LockTimeout = TimeSpan.FromMinutes(1); // the restore's ATTACH waits for the test's lock instead of giving up
            });
            using var _ = host;
            var archiver = host.Services.GetRequiredService<IPartitionArchiver>();
            await archiver.ArchiveAsync("public", name, partition);
            Assert.False(await ExistsAsync(partition));
            var archived = await archiver.GetManifestAsync("public", name, partition);
            Assert.NotNull(archived);

            // The restore's ATTACH waits behind a lock the test holds; meanwhile Blob storage goes away, so the restore's
            // transaction commits and the manifest update that follows it cannot reach storage.
            Task<long> restore;
            await using (var connection = await database.DataSource.OpenConnectionAsync())
            await using (var transaction = await connection.BeginTransactionAsync())
            {
                await using (var lockParent = new NpgsqlCommand($"LOCK TABLE public.{name} IN SHARE UPDATE EXCLUSIVE MODE", connection, transaction))
                {
                    await lockParent.ExecuteNonQueryAsync();
                }

                restore = archiver.RestoreAsync("public", name, partition);
                await TestSignal.UntilAsync(
                    async () => restore.IsCompleted || await database.DataSource.ScalarAsync<bool>(
                        $"SELECT EXISTS (SELECT FROM pg_locks WHERE relation = 'public.{name}'::regclass AND NOT granted)"),
                    "the restore's ATTACH to wait for the test's lock");
                Assert.False(restore.IsCompleted, "the restore must wait for the lock");
                await storage.DisposeAsync(); // closes the forwarded connections; the port now refuses
                storage = null;
                await transaction.CommitAsync();
            }

            // The caller is told the rows are back and what finishes the restore.
            var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => restore.WaitAsync("the restore to give up on storage", TimeSpan.FromMinutes(2)));
            Assert.Contains($"The 250 rows of {partition} were restored", failure.Message, StringComparison.Ordinal);
            Assert.Contains("Run RestoreAsync again", failure.Message, StringComparison.Ordinal);
            Assert.True(await ExistsAsync(partition));
            Assert.Equal(checksum, await ChecksumAsync(name));

            // Storage is back on the same address; the operator runs the restore again.
            storage = new FaultyTcpProxy(endpoint.Host, endpoint.Port, FaultyTcpProxy.ProxyMode.Forward, port);
            Assert.Equal(250, await archiver.RestoreAsync("public", name, partition).WaitAsync("the second restore"));
            Assert.Equal(checksum, await ChecksumAsync(name));
            var relationId = await database.DataSource.ScalarAsync<long>($"SELECT 'public.{partition}'::regclass::oid::bigint");
            var recorded = await archiver.GetManifestAsync("public", name, partition);
            Assert.NotNull(recorded);
            Assert.NotEqual(archived.RelationId, recorded.RelationId);
            Assert.Equal(relationId, recorded.RelationId);
        }
        finally
        {
            if (storage is not null)
            {
                await storage.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_restore_over_a_partition_holding_other_rows_is_refused_naming_it()
    {
        const string name = "ar_restore_twice";
        const string partition = name + "_p2026_09";
        var (host, _, _) = await TableAsync(name);
        using var _ = host;
        var archiver = host.Services.GetRequiredService<IPartitionArchiver>();
        await archiver.ArchiveAsync("public", name, partition);
        Assert.Equal(250, await archiver.RestoreAsync("public", name, partition));
        Assert.Equal(250, await archiver.RestoreAsync("public", name, partition)); // already done: nothing more to do
        await database.DataSource.ExecAsync($"DELETE FROM {partition} WHERE id = 7");

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => archiver.RestoreAsync("public", name, partition));
        Assert.Contains($"{partition} is already a partition of", refused.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was restored", refused.Message, StringComparison.Ordinal);
        Assert.Equal(249L, await CountAsync(name));
    }

    /// <summary>
    /// <see cref="ScaleOps.Partitioning.Lifecycle.RetentionMode.Detach"/> keeps the archived partition's table under its name, detached: a
    /// restore failed with PostgreSQL's 42P07 (relation already exists). It now says what the table is and how to use it.
    /// </summary>
    [Fact]
    public async Task A_restore_where_the_detached_table_still_stands_is_refused_with_the_attach_statement()
    {
        const string name = "ar_restore_detached";
        const string partition = name + "_p2026_09";
        var (host, _, _) = await TableAsync(name, mode: ScaleOps.Partitioning.Lifecycle.RetentionMode.Detach);
        using var _ = host;
        var archiver = host.Services.GetRequiredService<IPartitionArchiver>();
        await archiver.ArchiveAsync("public", name, partition);
        Assert.True(await ExistsAsync(partition)); // detached, not dropped
        var rows = await CountAsync(partition);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => archiver.RestoreAsync("public", name, partition));
        Assert.StartsWith($"\"public\".\"{partition}\" exists but is not a partition of \"public\".\"{name}\"", error.Message, StringComparison.Ordinal);
        Assert.Contains($"ALTER TABLE \"public\".\"{name}\" ATTACH PARTITION \"public\".\"{partition}\" FOR VALUES FROM ('2026-09-01", error.Message, StringComparison.Ordinal);
        Assert.Equal(rows, await CountAsync(partition)); // untouched

        // What it says works: the statement attaches the table back with the archived bounds.
        var attach = error.Message[error.Message.IndexOf("ALTER TABLE", StringComparison.Ordinal)..error.Message.IndexOf("; to restore", StringComparison.Ordinal)];
        await database.DataSource.ExecAsync(attach);
        Assert.Equal(rows, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {name} WHERE created_at < '2026-10-01'"));
    }

    /// <summary>
    /// Blob storage that accepts connections and never answers (a host silently dropping traffic): each request waited
    /// the SDK's 100 s per try, four tries, so an archive step hung for minutes. <c>ArchiveNetworkTimeout</c> bounds each
    /// try; the archive fails with the storage error and the partition keeps its rows.
    /// </summary>
    [Fact]
    public async Task An_archive_to_storage_that_never_answers_fails_within_its_network_timeout_and_keeps_the_rows()
    {
        const string name = "ar_blackholed";
        const string partition = name + "_p2026_09";
        var azurite = await TcpServer.BlobAsync();
        var start = azurite.IndexOf("BlobEndpoint=", StringComparison.Ordinal) + "BlobEndpoint=".Length;
        var end = azurite.IndexOf(';', start);
        var endpoint = new Uri(end < 0 ? azurite[start..] : azurite[start..end]);
        await using var storage = new FaultyTcpProxy(endpoint.Host, endpoint.Port, FaultyTcpProxy.ProxyMode.BlackHole);
        var silent = azurite.Replace($"BlobEndpoint={endpoint.GetLeftPart(UriPartial.Authority)}", $"BlobEndpoint=http://127.0.0.1:{storage.Port}", StringComparison.Ordinal);
        var (host, _, checksum) = await TableAsync(name, configure: o =>
        {
            o.BlobConnectionString = silent;
            o.ArchiveNetworkTimeout = TimeSpan.FromSeconds(1);
        });
        using var _ = host;
        var archiver = host.Services.GetRequiredService<IPartitionArchiver>();

        // Bounded by the test, far above 4 tries of 1 s (the SDK's default was 4 tries of 100 s).
        var error = await Assert.ThrowsAnyAsync<Exception>(() => archiver.ArchiveAsync("public", name, partition).WaitAsync(TimeSpan.FromSeconds(90)));
        Assert.False(error is TimeoutException, $"the archive was still waiting on storage after 90 s: {error.Message}");
        Assert.Contains("exceeded the configured timeout", error.ToString(), StringComparison.Ordinal); // the storage request's own
        Assert.True(storage.Accepted > 0); // it did try the silent storage
        Assert.Equal(checksum, await ChecksumAsync(name)); // nothing removed
        Assert.True(await ExistsAsync(partition));
    }
}
