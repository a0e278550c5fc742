using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.Partitioning.Migration;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Migration;

public partial class TableMigratorTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private sealed class InlineProgress(Action<ConversionProgress> report) : IProgress<ConversionProgress>
    {
        public void Report(ConversionProgress value) => report(value);
    }

    private async Task<(IHost Host, string Checksum, FakeTimeProvider Time)> SetUpAsync(string name, Action<PartitioningOptions>? configure = null,
        string? connectionString = null)
    {
        await database.DataSource.ExecAsync(
            $"CREATE TABLE {name} (id bigint PRIMARY KEY, created_at timestamptz, tenant_id text NOT NULL, body text);"
            + $"CREATE INDEX {name}_tenant ON {name} (tenant_id, created_at);"
            + $"INSERT INTO {name} SELECT g, timestamptz '2026-05-01' + g * interval '150 minutes', 't' || (g % 7), 'row ' || g FROM generate_series(1, 2000) g;"
            + $"CREATE TABLE {name}_new (id bigint NOT NULL, created_at timestamptz NOT NULL, tenant_id text NOT NULL, body text, PRIMARY KEY (id, created_at)) "
            + "PARTITION BY RANGE (created_at);"
            + $"CREATE INDEX {name}_new_tenant ON {name}_new (tenant_id, created_at);");
        var checksum = await database.DataSource.ScalarAsync<string>($"SELECT md5(string_agg({name}::text, '|' ORDER BY id)) FROM {name}");
        var time = new FakeTimeProvider(TestHost.Monday);
        var host = TestHost.Build(connectionString ?? database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.Tables.Add(new PartitionedTableOptions { Name = name, Column = "created_at", Premake = 2 });
            configure?.Invoke(o);
        }, time, schema: "so_" + name);
        return (host, checksum, time);
    }

    [Fact]
    public async Task A_live_table_becomes_partitioned_without_losing_concurrent_writes()
    {
        var (host, checksum, time) = await SetUpAsync("mig_live");
        using var _ = host;
        var migrator = host.Services.GetRequiredService<ITableMigrator>();
        var reports = new ConcurrentQueue<ConversionProgress>();

        using var stop = new CancellationTokenSource();
        var written = 0;
        var firstWrite = new TaskCompletionSource();
        var openPeriod = time.GetUtcNow();
        var writer = Task.Run(async () =>
        {
            await using var connection = await database.DataSource.OpenConnectionAsync();
            for (var id = 1_000_000; !stop.IsCancellationRequested; id++)
            {
                // Written at the host's clock (the open period, November), not the server's: the test must not
                // depend on the day it runs.
                await using var insert = new NpgsqlCommand("INSERT INTO mig_live (id, created_at, tenant_id, body) VALUES ($1, $2, 'live', 'concurrent')", connection);
                insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
                insert.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = openPeriod.UtcDateTime });
                await insert.ExecuteNonQueryAsync();
                Interlocked.Increment(ref written);
                firstWrite.TrySetResult();
            }
        });
        await firstWrite.Task.WaitAsync("the concurrent writer to start");

        var result = await migrator.ConvertAsync("public", "mig_live", "mig_live_new", new InlineProgress(reports.Enqueue)).WaitAsync("the conversion");
        await stop.CancelAsync();
        await writer.WaitAsync("the concurrent writer to stop");

        Assert.True(result.Swapped);
        Assert.Equal(6, result.PeriodsMoved); // the closed periods 2026_05 .. 2026_10; 2026_11 is still being written
        Assert.True(result.RowsBefore >= 2000);
        Assert.Contains(await database.DataSource.PartitionsAsync("public.mig_live"), p => p == "mig_live_default DEFAULT");

        // The cut is the start of the period after next (2027-01): December stays in the old table until it closes.
        time.Advance(TimeSpan.FromDays(40)); // January: November and December have closed
        var finish = await migrator.ConvertAsync("public", "mig_live", "mig_live_new", new InlineProgress(reports.Enqueue));
        Assert.Equal(2, finish.PeriodsMoved); // November's rows, and an empty December
        Assert.Equal(2000L + written, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_live"));
        Assert.Equal(checksum, await database.DataSource.ScalarAsync<string>("SELECT md5(string_agg(mig_live::text, '|' ORDER BY id)) FROM mig_live WHERE id <= 2000"));
        Assert.Equal("p", await database.DataSource.ScalarAsync<string>("SELECT relkind::text FROM pg_class WHERE oid = 'mig_live'::regclass"));
        var partitions = await database.DataSource.PartitionsAsync("public.mig_live");
        Assert.DoesNotContain(partitions, p => p.Contains("DEFAULT", StringComparison.Ordinal));
        Assert.Contains(partitions, p => p.StartsWith("mig_live_p2026_05 ", StringComparison.Ordinal));
        Assert.Contains(partitions, p => p.StartsWith("mig_live_p2026_12 ", StringComparison.Ordinal));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM ONLY mig_live_p2026_05 WHERE created_at >= '2026-06-01'"));

        var steps = reports.Select(r => r.Step).ToList();
        Assert.Equal(["indexes", "check", "partitions ahead", "swap"], steps.Take(4));
        Assert.Equal("drop default", steps[^1]);
        Assert.Contains("move mig_live_p2026_05", steps);
        var lastMove = reports.Last(r => r.Step.StartsWith("move", StringComparison.Ordinal));
        Assert.Equal(lastMove.RowsToMove, lastMove.RowsMoved);
    }

    [Fact]
    public async Task A_conversion_that_stopped_halfway_resumes_and_loses_nothing()
    {
        var (host, checksum, time) = await SetUpAsync("mig_resume");
        using var _ = host;
        var migrator = host.Services.GetRequiredService<ITableMigrator>();
        var moves = 0;
        var crashing = new InlineProgress(p =>
        {
            if (p.Step.StartsWith("move", StringComparison.Ordinal) && ++moves == 3)
            {
                throw new OperationCanceledException("simulated crash after the third period");
            }
        });

        await Assert.ThrowsAsync<OperationCanceledException>(() => migrator.ConvertAsync("public", "mig_resume", "mig_resume_new", crashing));
        Assert.Equal(2000L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_resume"));

        var result = await migrator.ConvertAsync("public", "mig_resume", "mig_resume_new");
        Assert.False(result.Swapped);
        Assert.Equal(3, result.PeriodsMoved); // 2026_08 .. 2026_10
        Assert.Equal(2000L, result.RowsAfter);
        time.Advance(TimeSpan.FromDays(40));
        Assert.Equal(2, (await migrator.ConvertAsync("public", "mig_resume", "mig_resume_new")).PeriodsMoved);
        Assert.Equal(checksum, await database.DataSource.ScalarAsync<string>("SELECT md5(string_agg(mig_resume::text, '|' ORDER BY id)) FROM mig_resume"));
        Assert.DoesNotContain(await database.DataSource.PartitionsAsync("public.mig_resume"), p => p.Contains("DEFAULT", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_row_written_to_the_default_after_it_was_found_empty_is_not_dropped_with_it()
    {
        var (host, _, time) = await SetUpAsync("mig_late", o => o.LockTimeout = TimeSpan.FromMinutes(1));
        using var _ = host;
        var migrator = host.Services.GetRequiredService<ITableMigrator>();
        await migrator.ConvertAsync("public", "mig_late", "mig_late_new");
        time.Advance(TimeSpan.FromDays(40)); // January: November and December, the last periods in the old table, move out now

        // Right after the last move, a late row of a closed period goes into the default, uncommitted: the emptiness
        // check reads no row. It commits once the removal of the default waits for its lock.
        await using var writer = await database.DataSource.OpenConnectionAsync();
        NpgsqlTransaction? late = null;
        var lateRow = new InlineProgress(p =>
        {
            if (p.Step == "move mig_late_p2026_12")
            {
                late = writer.BeginTransaction();
                using var insert = new NpgsqlCommand("INSERT INTO mig_late VALUES (9999, '2020-01-15', 'late', 'late row')", writer, late);
                insert.ExecuteNonQuery();
            }
        });
        var convert = migrator.ConvertAsync("public", "mig_late", "mig_late_new", lateRow);
        await TestSignal.UntilAsync(async () => convert.IsCompleted || await database.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation IN ('mig_late'::regclass, 'mig_late_default'::regclass)") > 0,
            "the removal of the default to wait for the late row's transaction");
        Assert.False(convert.IsCompleted);
        await late!.CommitAsync();

        await convert.WaitAsync("the conversion run");
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_late WHERE id = 9999"));
        Assert.Contains(await database.DataSource.PartitionsAsync("public.mig_late"), p => p == "mig_late_default DEFAULT");

        // The next run moves the late row out, then the default goes.
        var finish = await migrator.ConvertAsync("public", "mig_late", "mig_late_new");
        Assert.Equal(1, finish.PeriodsMoved);
        Assert.Equal(2001L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_late"));
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_late_p2020_01"));
        Assert.DoesNotContain(await database.DataSource.PartitionsAsync("public.mig_late"), p => p.Contains("DEFAULT", StringComparison.Ordinal));
    }
    [Fact]
    public async Task Writes_of_the_next_period_succeed_when_the_conversion_crosses_the_boundary_and_land_in_their_partition()
    {
        var (host, _, time) = await SetUpAsync("mig_cross");
        using var _ = host;
        var migrator = host.Services.GetRequiredService<ITableMigrator>();
        await using var writer = await database.DataSource.OpenConnectionAsync();
        // The CHECK is validated; before the swap, November ends (a long validation) and December's writes begin.
        var crossing = new InlineProgress(p =>
        {
            if (p.Step == "check")
            {
                time.SetUtcNow(new DateTimeOffset(2026, 12, 1, 0, 30, 0, TimeSpan.Zero));
                using var insert = new NpgsqlCommand("INSERT INTO mig_cross VALUES (5001, '2026-12-01 00:10+00', 'live', 'before the swap')", writer);
                insert.ExecuteNonQuery();
            }
        });

        var result = await migrator.ConvertAsync("public", "mig_cross", "mig_cross_new", crossing);
        Assert.True(result.Swapped);
        Assert.Equal(7, result.PeriodsMoved); // 2026_05 .. 2026_11; December is open and stays in the old table
        await database.DataSource.ExecAsync(
            "INSERT INTO mig_cross VALUES (5002, '2026-12-01 02:00+00', 'live', 'after the swap'), (5003, '2027-01-01 01:00+00', 'live', 'next period')");
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_cross_p2027_01"));

        time.SetUtcNow(new DateTimeOffset(2027, 1, 2, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(1, (await migrator.ConvertAsync("public", "mig_cross", "mig_cross_new")).PeriodsMoved);
        Assert.Equal(["5001", "5002"], await database.DataSource.ColumnAsync("SELECT id FROM ONLY mig_cross_p2026_12 ORDER BY id"));
        Assert.Equal(2003L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_cross"));
        Assert.DoesNotContain(await database.DataSource.PartitionsAsync("public.mig_cross"), p => p.Contains("DEFAULT", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_resumed_conversion_replaces_a_range_check_whose_bound_is_too_close()
    {
        var (host, _, time) = await SetUpAsync("mig_recut");
        using var _ = host;
        var migrator = host.Services.GetRequiredService<ITableMigrator>();
        // What an interrupted run of the older code left: the CHECK bounded at the next period's start, committed, and
        // the staged partition from that bound on.
        await database.DataSource.ExecAsync(
            "ALTER TABLE mig_recut ADD CONSTRAINT mig_recut_scaleops_range CHECK (created_at IS NOT NULL AND created_at < '2026-12-01 00:00:00+00') NOT VALID;"
            + "CREATE TABLE mig_recut_new_p2026_12 PARTITION OF mig_recut_new FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')");
        time.SetUtcNow(new DateTimeOffset(2026, 11, 30, 23, 0, 0, TimeSpan.Zero));
        await using var writer = await database.DataSource.OpenConnectionAsync();
        var crossing = new InlineProgress(p =>
        {
            if (p.Step == "check")
            {
                using var insert = new NpgsqlCommand("INSERT INTO mig_recut VALUES (5001, '2026-12-01 00:10+00', 'live', 'crossed')", writer);
                insert.ExecuteNonQuery();
            }
        });

        Assert.True((await migrator.ConvertAsync("public", "mig_recut", "mig_recut_new", crossing)).Swapped);
        Assert.Equal(2001L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_recut"));
        var partitions = await database.DataSource.PartitionsAsync("public.mig_recut");
        Assert.Contains(partitions, p => p.StartsWith("mig_recut_p2027_01 ", StringComparison.Ordinal));
        Assert.DoesNotContain(partitions, p => p.StartsWith("mig_recut_new_p2026_12 ", StringComparison.Ordinal)); // below the new cut: dropped
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM ONLY mig_recut_default WHERE id = 5001"));
    }

    /// <summary>
    /// A resumed conversion reads the bound of the range CHECK an earlier run left. In a session whose DateStyle is not
    /// ISO it printed as 01/02/2027 (or 'Mon Feb 01 ...'), read as 2 January or not at all: the conversion failed or
    /// built its partitions from the wrong date.
    /// </summary>
    [Theory]
    [InlineData("SQL,DMY")]
    [InlineData("Postgres,MDY")]
    public async Task A_resumed_conversion_reads_its_range_check_whatever_the_session_DateStyle(string dateStyle)
    {
        var name = "mig_ds_" + dateStyle.Replace(",", "_", StringComparison.Ordinal).ToLowerInvariant();
        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Options = "-c DateStyle=" + dateStyle }.ConnectionString;
        var (host, checksum, _) = await SetUpAsync(name, connectionString: connectionString);
        using var _ = host;
        await database.DataSource.ExecAsync(
            $"ALTER TABLE {name} ADD CONSTRAINT {name}_scaleops_range CHECK (created_at IS NOT NULL AND created_at < '2027-02-01 00:00:00+00') NOT VALID");

        Assert.True((await host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", name, name + "_new")).Swapped);
        Assert.Equal(checksum, await database.DataSource.ScalarAsync<string>($"SELECT md5(string_agg({name}::text, '|' ORDER BY id)) FROM {name}"));
        var partitions = await database.DataSource.PartitionsAsync("public." + name);
        Assert.Contains(partitions, p => p.EndsWith("FOR VALUES FROM ('2027-02-01 00:00:00+00') TO ('2027-03-01 00:00:00+00')", StringComparison.Ordinal));
        Assert.All(partitions, p => Assert.True(p.EndsWith(" DEFAULT", StringComparison.Ordinal) || p.Contains("-01 00:00:00+00')", StringComparison.Ordinal), p));
    }
}
