using System;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Parquet;
using ScaleOps.Partitioning.Archive;
using ScaleOps.Partitioning.Internal;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Archive;

public partial class ArchiveTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private readonly string _container = "arch-" + Guid.NewGuid().ToString("N");

    /// <summary>A table with rows in 2026_09 (tabs, newlines, backslashes, NULLs, JSON, arrays, bytea), time moved so 2026_09 and 2026_10 expire.</summary>
    private async Task<(IHost Host, FakeTimeProvider Time, string Checksum)> TableAsync(string name, int rows = 250,
        RetentionMode mode = RetentionMode.Drop, Action<PartitioningOptions>? configure = null, Action<IServiceCollection>? services = null)
    {
        await database.DataSource.ExecAsync(
            $"CREATE TABLE {name} (id bigint NOT NULL, created_at timestamptz NOT NULL, body text, data jsonb, amount numeric, raw bytea, tags text[]) "
            + "PARTITION BY RANGE (created_at)");
        var blob = await TcpServer.BlobAsync();
        var time = new FakeTimeProvider(TestHost.Monday);
        var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.BlobConnectionString = blob;
            o.ArchiveContainer = _container;
            o.ArchiveRowGroupSize = 100;
            o.Tables.Add(new PartitionedTableOptions { Name = name, Column = "created_at", Premake = 2, Retention = 2, Archive = true, RetentionMode = mode });
            configure?.Invoke(o);
        }, time, schema: "so_" + name, services);
        await host.MigratedAsync();
        await host.Services.GetRequiredService<IPartitionMaintenance>().RunMaintenanceAsync();
        await database.DataSource.ExecAsync(
            $"INSERT INTO {name} SELECT g, timestamptz '2026-09-01' + g * interval '1 hour', "
            + "CASE WHEN g % 10 = 0 THEN NULL ELSE E'line\\tone\\nline \\\\two \"q\" ü ' || g END, "
            + "jsonb_build_object('g', g, 's', E'a\\nb'), g * 1.5, decode(lpad(to_hex(g), 8, '0'), 'hex'), ARRAY['x', NULL, 'y' || g] "
            + $"FROM generate_series(1, {rows}) g");
        time.Advance(TimeSpan.FromDays(40)); // 2027-01-02: cutoff 2026-11-01
        return (host, time, await ChecksumAsync(name));
    }

    private Task<string> ChecksumAsync(string table) =>
        database.DataSource.ScalarAsync<string>($"SELECT coalesce(md5(string_agg({table}::text, '|' ORDER BY id)), 'empty') FROM {table}");

    private Task<long> CountAsync(string table) => database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {table}");

    private Task<bool> ExistsAsync(string table) => database.DataSource.ScalarAsync<bool>($"SELECT to_regclass('{table}') IS NOT NULL");

    [Fact]
    public async Task Maintenance_archives_verifies_then_drops_and_restore_brings_the_rows_back()
    {
        var (host, _, checksum) = await TableAsync("ar_full");
        using var _ = host;
        var maintenance = host.Services.GetRequiredService<IPartitionMaintenance>();
        var result = await maintenance.RunMaintenanceAsync();
        Assert.Equal(["Archive ar_full_p2026_09", "Drop ar_full_p2026_09", "Archive ar_full_p2026_10", "Drop ar_full_p2026_10"],
            result.Actions.Where(a => a.Kind is PartitionActionKind.Archive or PartitionActionKind.Drop).Select(a => $"{a.Kind} {a.Partition}"));
        Assert.False(await ExistsAsync("ar_full_p2026_09"));
        Assert.Equal(0L, await CountAsync("ar_full"));

        var archiver = host.Services.GetRequiredService<IPartitionArchiver>();
        var manifest = await archiver.GetManifestAsync("public", "ar_full", "ar_full_p2026_09");
        Assert.NotNull(manifest);
        Assert.Equal(250, manifest.Rows);
        Assert.Equal(new DateTime(2026, 9, 1, 0, 0, 0, DateTimeKind.Utc), manifest.From);
        Assert.Equal(7, manifest.Columns.Count);

        // Streaming: the file holds row groups of ArchiveRowGroupSize rows, the most an export keeps in memory.
        var blob = new BlobContainerClient(await TcpServer.BlobAsync(), _container).GetBlobClient(manifest.Blob);
        await using (var stream = new MemoryStream((await blob.DownloadContentAsync()).Value.Content.ToArray()))
        await using (var reader = await ParquetReader.CreateAsync(stream))
        {
            Assert.Equal(3, reader.RowGroupCount);
        }

        Assert.Equal(250, await archiver.RestoreAsync("public", "ar_full", "ar_full_p2026_09"));
        Assert.Equal(checksum, await ChecksumAsync("ar_full"));
        Assert.Contains(await database.DataSource.PartitionsAsync("public.ar_full"), p => p.StartsWith("ar_full_p2026_09 ", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Exported")]
    [InlineData("Uploaded")]
    [InlineData("Verified")]
    [InlineData("ManifestWritten")]
    [InlineData("Detached")]
    [InlineData("Removed")]
    public async Task A_crash_after_any_step_leaves_the_rows_in_PostgreSQL_or_verified_in_the_blob_and_a_rerun_finishes(string step)
    {
        var crashAfter = Enum.Parse<ArchiveStep>(step);
        var name = "ar_crash_" + crashAfter.ToString().ToLowerInvariant();
        var partition = name + "_p2026_09";
        var (host, _, checksum) = await TableAsync(name);
        using var _ = host;
        var archiver = host.Services.GetRequiredService<PartitionArchiver>();
        archiver.Fault = step => step == crashAfter ? throw new IOException($"simulated crash after {step}") : Task.CompletedTask;

        var crash = await Assert.ThrowsAsync<IOException>(() => archiver.ArchiveAsync("public", name, partition));
        Assert.Contains(crashAfter.ToString(), crash.Message, StringComparison.Ordinal);

        var inPostgres = await ExistsAsync(partition) && await CountAsync(partition) == 250;
        var manifest = await archiver.GetManifestAsync("public", name, partition);
        var inBlob = manifest is not null && manifest.Rows == 250 && await archiver.VerifyAsync(manifest, default);
        Assert.True(inPostgres || inBlob, "the rows must be in PostgreSQL or verified in the blob");
        if (crashAfter < ArchiveStep.ManifestWritten)
        {
            Assert.True(inPostgres && !inBlob, "before the manifest exists, the partition must be untouched");
            Assert.Equal(250L, await CountAsync(name));
        }

        archiver.Fault = null;
        await archiver.ArchiveAsync("public", name, partition);
        Assert.False(await ExistsAsync(partition));
        Assert.Equal(250, await archiver.RestoreAsync("public", name, partition));
        Assert.Equal(checksum, await ChecksumAsync(name));
    }

    [Fact]
    public async Task Rows_written_after_the_archive_was_verified_stop_the_removal()
    {
        var (host, _, _) = await TableAsync("ar_late", rows: 10);
        using var _ = host;
        var archiver = host.Services.GetRequiredService<PartitionArchiver>();
        archiver.Fault = async step =>
        {
            if (step == ArchiveStep.ManifestWritten)
            {
                await database.DataSource.ExecAsync("INSERT INTO ar_late VALUES (999, '2026-09-30', 'late', NULL, NULL, NULL, NULL)");
            }
        };

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => archiver.ArchiveAsync("public", "ar_late", "ar_late_p2026_09"));
        Assert.Contains("has 11 rows but its verified archive has 10", error.Message, StringComparison.Ordinal);
        Assert.Equal(11L, await CountAsync("ar_late_p2026_09"));
        Assert.Contains(await database.DataSource.PartitionsAsync("public.ar_late"), p => p.StartsWith("ar_late_p2026_09 ", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("current", "2027_01")] // the current period (2027-01-02 on the fake clock)
    [InlineData("ahead", "2027_02")]
    public async Task An_open_partition_is_refused_and_stays(string what, string period)
    {
        var name = "ar_open_" + what;
        var partition = name + "_p" + period;
        var (host, _, _) = await TableAsync(name, rows: 10);
        using var _ = host;
        await host.Services.GetRequiredService<IPartitionMaintenance>().RunMaintenanceAsync();
        await database.DataSource.ExecAsync($"INSERT INTO {name} VALUES (500, '2027-01-02 08:00+00', 'current', NULL, NULL, NULL, NULL)");

        var error = await Assert.ThrowsAsync<PartitionNotClosedException>(
            () => host.Services.GetRequiredService<IPartitionArchiver>().ArchiveAsync("public", name, partition));
        Assert.Equal(partition, error.Partition);
        Assert.Contains($"{partition} of \"public\".\"{name}\" is not closed", error.Message, StringComparison.Ordinal);
        Assert.Contains(await database.DataSource.PartitionsAsync("public." + name), p => p.StartsWith(partition + " ", StringComparison.Ordinal));
        await database.DataSource.ExecAsync($"INSERT INTO {name} VALUES (501, '2027-02-02 09:00+00', 'ahead', NULL, NULL, NULL, NULL)");
        Assert.Equal(1L, await CountAsync(name + "_p2027_02"));
    }

    [Fact]
    public async Task The_removal_counts_the_archived_rows_before_it_locks_the_parent()
    {
        // The check of the row count scans the partition. It used to run after the DETACH, under the DETACH's ACCESS
        // EXCLUSIVE lock on the parent: every query of the table waited for the scan. Here the partition is held by a
        // writer's transaction, so the removal stops at the partition; the parent must stay readable meanwhile.
        var (host, _, _) = await TableAsync("ar_parent", rows: 10, configure: o => o.LockTimeout = TimeSpan.FromMinutes(1));
        using var _ = host;
        await using var writer = await database.DataSource.OpenConnectionAsync();
        await using var writerTx = await writer.BeginTransactionAsync();
        await using (var hold = new Npgsql.NpgsqlCommand("LOCK TABLE ar_parent_p2026_09 IN ROW EXCLUSIVE MODE", writer, writerTx))
        {
            await hold.ExecuteNonQueryAsync();
        }

        var archive = host.Services.GetRequiredService<IPartitionArchiver>().ArchiveAsync("public", "ar_parent", "ar_parent_p2026_09");
        await TestSignal.UntilAsync(async () => archive.IsCompleted || await database.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'ar_parent_p2026_09'::regclass") > 0, "the removal to wait for the partition");
        Assert.False(archive.IsCompleted);

        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_locks WHERE relation = 'ar_parent'::regclass AND mode = 'AccessExclusiveLock'"));
        await using (var reader = await database.DataSource.OpenConnectionAsync())
        {
            await using var probe = new Npgsql.NpgsqlCommand("SET lock_timeout = '200ms'; SELECT count(*) FROM ar_parent", reader);
            Assert.Equal(10L, (long)(await probe.ExecuteScalarAsync())!);
        }

        await writerTx.CommitAsync();
        await archive.WaitAsync("the archive once the writer is done");
        Assert.False(await ExistsAsync("ar_parent_p2026_09"));
    }

    [Fact]
    public async Task Rows_updated_after_the_archive_was_verified_stop_the_removal()
    {
        // Same row count, other values (an erasure): removing the partition would keep only the archive's old values.
        var (host, _, _) = await TableAsync("ar_erased", rows: 10);
        using var _ = host;
        var archiver = host.Services.GetRequiredService<PartitionArchiver>();
        archiver.Fault = async step =>
        {
            if (step == ArchiveStep.ManifestWritten)
            {
                await database.DataSource.ExecAsync("UPDATE ar_erased SET body = NULL, data = NULL WHERE id = 5");
            }
        };

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => archiver.ArchiveAsync("public", "ar_erased", "ar_erased_p2026_09"));
        Assert.Contains("checksum differs", error.Message, StringComparison.Ordinal);
        Assert.Contains(await database.DataSource.PartitionsAsync("public.ar_erased"), p => p.StartsWith("ar_erased_p2026_09 ", StringComparison.Ordinal));
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM ar_erased WHERE id = 5 AND body IS NULL"));
    }

    [Fact]
    public async Task A_rerun_does_not_reuse_the_archive_of_rows_changed_since()
    {
        var (host, _, _) = await TableAsync("ar_changed", rows: 10);
        using var _ = host;
        var archiver = host.Services.GetRequiredService<PartitionArchiver>();
        archiver.Fault = step => step == ArchiveStep.ManifestWritten ? throw new IOException("simulated crash after the manifest") : Task.CompletedTask;
        await Assert.ThrowsAsync<IOException>(() => archiver.ArchiveAsync("public", "ar_changed", "ar_changed_p2026_09"));
        var stale = await archiver.GetManifestAsync("public", "ar_changed", "ar_changed_p2026_09");
        await database.DataSource.ExecAsync("UPDATE ar_changed SET body = 'erased' WHERE id = 5");
        var checksum = await ChecksumAsync("ar_changed");

        archiver.Fault = null;
        var fresh = await archiver.ArchiveAsync("public", "ar_changed", "ar_changed_p2026_09");
        Assert.NotEqual(stale!.RowChecksum, fresh.RowChecksum);
        Assert.False(await ExistsAsync("ar_changed_p2026_09"));
        Assert.Equal(10, await archiver.RestoreAsync("public", "ar_changed", "ar_changed_p2026_09"));
        Assert.Equal(checksum, await ChecksumAsync("ar_changed"));
    }
}
