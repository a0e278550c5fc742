using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

public partial class MaintenanceTests
{
    [Fact]
    public async Task Health_reports_missing_partitions_and_partitions_past_retention()
    {
        var (host, time, maintenance) = await TableAsync("m_health", t => t.Retention = 2);
        using var _ = host;
        Assert.Equal(3, (await maintenance.GetHealthAsync()).Single().MissingFuturePartitions);
        await maintenance.RunMaintenanceAsync();
        Assert.True((await maintenance.GetHealthAsync()).Single().IsHealthy);

        time.Advance(TimeSpan.FromDays(70)); // 2027-02-01: current 2027_02, 2027_03 and 2027_04 are missing; 2026_09..2026_11 are past retention
        var meter = host.Services.GetRequiredService<ScaleOps.Diagnostics.ScaleOpsMetrics>().Meter;
        using var missing = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(meter, "scaleops.partitioning.missing_future_partitions");
        using var past = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(meter, "scaleops.partitioning.past_retention");
        using var size = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(meter, "scaleops.partitioning.size");
        using var count = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(meter, "scaleops.partitioning.partitions");
        var health = (await maintenance.GetHealthAsync()).Single();
        Assert.Equal(3, health.MissingFuturePartitions);
        Assert.Equal(3, health.PartitionsPastRetention);
        Assert.Equal(5, health.Partitions.Count);
        Assert.True(health.TotalBytes > 0);

        // The same figures on the ScaleOps meter, tagged with the table; a month later, so that each differs.
        time.Advance(TimeSpan.FromDays(30)); // 2027-03-03: 2027_03..2027_05 missing; 2026_09..2026_12 past retention
        var later = (await maintenance.GetHealthAsync()).Single();
        Assert.Equal((3, 4), (later.MissingFuturePartitions, later.PartitionsPastRetention));
        foreach (var gauge in new[] { missing, past, size, count })
        {
            gauge.RecordObservableInstruments();
            Assert.Equal("\"public\".\"m_health\"", gauge.LastMeasurement!.Tags["table"]);
        }

        Assert.Equal(3, missing.LastMeasurement!.Value);
        Assert.Equal(4, past.LastMeasurement!.Value);
        Assert.Equal(later.TotalBytes, size.LastMeasurement!.Value);
        Assert.Equal(5, count.LastMeasurement!.Value);
    }

    [Fact]
    public async Task Only_one_host_runs_maintenance_at_a_time()
    {
        var (host, _, maintenance) = await TableAsync("m_leader");
        using var _ = host;
        await using (var other = await AdvisoryLock.TryAcquireAsync(database.DataSource, "scaleops:partitioning:maintenance"))
        {
            Assert.NotNull(other);
            var skipped = await maintenance.RunMaintenanceAsync();
            Assert.False(skipped.Ran);
            Assert.Empty(await database.DataSource.PartitionsAsync("public.m_leader"));
        }

        Assert.True((await maintenance.RunMaintenanceAsync()).Ran);
    }

    [Fact]
    public async Task Ddl_gives_up_on_a_busy_table_instead_of_queueing_readers_and_succeeds_later()
    {
        var (host, time, maintenance) = await TableAsync("m_lock", t => t.Retention = 2, o => { o.DdlAttempts = 2; o.LockTimeout = TimeSpan.FromMilliseconds(500); });
        using var _ = host;
        await maintenance.RunMaintenanceAsync();
        time.Advance(TimeSpan.FromDays(40));

        await using var reader = await database.DataSource.OpenConnectionAsync();
        await using var readerTx = await reader.BeginTransactionAsync();
        await using (var read = new NpgsqlCommand("SELECT count(*) FROM m_lock", reader, readerTx))
        {
            await read.ExecuteScalarAsync();
        }

        var run = maintenance.RunMaintenanceAsync();
        // Once the DETACH waits for its lock (behind the open reader), a new reader queues behind it, but only until the
        // DETACH's lock_timeout gives up: it gets through within its own, far longer, lock_timeout. A DDL without
        // lock_timeout would keep it queued until the first reader ends, and this read would fail (55P03).
        await TestSignal.UntilAsync(async () => run.IsCompleted || await database.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_locks WHERE relation = 'm_lock'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted") > 0,
            "the DETACH to wait for its lock");
        await using (var late = await database.DataSource.OpenConnectionAsync())
        {
            await using (var bound = new NpgsqlCommand("SET lock_timeout = '20s'", late))
            {
                await bound.ExecuteNonQueryAsync();
            }

            await using var read = new NpgsqlCommand("SELECT count(*) FROM m_lock", late);
            Assert.Equal(0L, (long)(await read.ExecuteScalarAsync())!);
        }

        var gaveUp = await run.WaitAsync("maintenance to give up");
        var failure = Assert.Single(gaveUp.Failures, f => f.Action?.Partition == "m_lock_p2026_09");
        Assert.Equal(PostgresErrorCodes.LockNotAvailable, Assert.IsType<PostgresException>(failure.Error).SqlState);
        Assert.DoesNotContain(gaveUp.Actions, a => a.Partition == "m_lock_p2026_09");
        Assert.Contains(gaveUp.Actions, a => a.Kind == PartitionActionKind.Create); // the run went on
        Assert.Contains(await database.DataSource.PartitionsAsync("public.m_lock"), p => p.StartsWith("m_lock_p2026_09 ", StringComparison.Ordinal));

        await readerTx.RollbackAsync();
        var retry = await maintenance.RunMaintenanceAsync();
        Assert.Contains(retry.Actions, a => a.Kind == PartitionActionKind.Drop && a.Partition == "m_lock_p2026_09");
    }

    [Fact]
    public async Task Hostile_names_are_quoted_and_index_templates_apply_to_new_partitions()
    {
        const string name = "ev\"il; DROP TABLE victims; --";
        await database.DataSource.ExecAsync("CREATE TABLE victims (id int)");
        var (host, _, maintenance) = await TableAsync(name, t =>
        {
            t.Premake = 1;
            t.Indexes.Add(new PartitionIndexTemplate { Suffix = "brin", Columns = ["created_at"], Brin = true });
        });
        using var _ = host;

        var result = await maintenance.RunMaintenanceAsync();
        Assert.Equal(3, result.Actions.Count);
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'victims'"));
        var partition = name + "_p2026_11";
        Assert.Equal("brin", await database.DataSource.ScalarAsync<string>(
            $"SELECT am.amname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
            + $"WHERE c.relname = '{(partition + "_brin").Replace("'", "''", StringComparison.Ordinal)}'"));
    }

    [Fact]
    public async Task Index_template_names_stay_unique_and_within_63_bytes_for_a_60_byte_table_name()
    {
        var name = "m_long_" + new string('x', 53);
        Assert.Equal(60, name.Length);
        var (host, _, maintenance) = await TableAsync(name, t =>
        {
            t.Indexes.Add(new PartitionIndexTemplate { Suffix = "brin", Columns = ["created_at"], Brin = true });
            t.Indexes.Add(new PartitionIndexTemplate { Suffix = "by_id", Columns = ["id"] });
        });
        using var _ = host;

        var result = await maintenance.RunMaintenanceAsync();
        Assert.Empty(result.Failures);
        Assert.Equal(5, result.Actions.Count);
        var indexes = await database.DataSource.ColumnAsync(
            $"SELECT c.relname::text FROM pg_inherits h JOIN pg_index i ON i.indrelid = h.inhrelid JOIN pg_class c ON c.oid = i.indexrelid "
            + $"WHERE h.inhparent = 'public.{name}'::regclass ORDER BY 1");
        Assert.Equal(10, indexes.Count);
        Assert.Equal(10, indexes.Distinct().Count());
        Assert.All(indexes, i => Assert.True(System.Text.Encoding.UTF8.GetByteCount(i) <= 63, i));
        Assert.Contains("m_long_" + new string('x', 42) + "_p2026_11_brin", indexes); // 63 bytes: the table part is cut
    }

    [Fact]
    public async Task A_table_whose_archive_always_fails_neither_stops_the_audit_table_nor_fails_the_host_start()
    {
        // Table m_noblob comes before the audit table (configured tables first); its expired partition must be archived,
        // but Blob storage is a closed loopback port.
        await database.DataSource.ExecAsync(
            "CREATE TABLE m_noblob (id bigint NOT NULL, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at);"
            + "CREATE TABLE m_noblob_p2026_01 PARTITION OF m_noblob FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');"
            + "INSERT INTO m_noblob VALUES (1, '2026-01-15')");
        int closedPort;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            closedPort = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }

        using var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.RunMaintenanceOnStart = true;
            o.MaintenanceInterval = TimeSpan.Zero;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.BlobConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                + "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
                + $"BlobEndpoint=http://127.0.0.1:{closedPort}/devstoreaccount1;";
            o.Tables.Add(new PartitionedTableOptions { Name = "m_noblob", Column = "created_at", Premake = 2, Retention = 2, Archive = true });
        }, new FakeTimeProvider(TestHost.Monday), schema: "so_m_noblob");

        using var failures = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(
            host.Services.GetRequiredService<ScaleOps.Diagnostics.ScaleOpsMetrics>().Meter, "scaleops.partitioning.maintenance.failures");
        await host.StartAsync(); // threw on the archive's connection error before

        Assert.Equal(
            ["audit_log_p2026_11", "audit_log_p2026_12", "audit_log_p2027_01", "audit_log_p2027_02"],
            (await database.DataSource.PartitionsAsync("so_m_noblob.audit_log")).Select(p => p.Split(' ')[0]).Where(p => string.CompareOrdinal(p, "audit_log_p2026_11") >= 0));
        Assert.Contains(await database.DataSource.PartitionsAsync("public.m_noblob"), p => p.StartsWith("m_noblob_p2027_01 ", StringComparison.Ordinal));
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_noblob_p2026_01"));

        // The failure is counted; the partition that could not be archived is not dropped.
        Assert.Equal("archive", Assert.Single(failures.GetMeasurementSnapshot()).Tags["kind"]);
        Assert.Contains(await database.DataSource.PartitionsAsync("public.m_noblob"), p => p.StartsWith("m_noblob_p2026_01 ", StringComparison.Ordinal));
        await host.StopAsync();
    }

    [Fact]
    public async Task Every_table_gets_its_partitions_before_any_retention_work()
    {
        await database.DataSource.ExecAsync(
            "CREATE TABLE m_first (id bigint NOT NULL, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at);"
            + "CREATE TABLE m_first_p2026_01 PARTITION OF m_first FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');"
            + "CREATE TABLE m_second (id bigint NOT NULL, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at)");
        using var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.Tables.Add(new PartitionedTableOptions { Name = "m_first", Column = "created_at", Premake = 1, Retention = 2 });
            o.Tables.Add(new PartitionedTableOptions { Name = "m_second", Column = "created_at", Premake = 1 });
        }, new FakeTimeProvider(TestHost.Monday), schema: "so_m_order");
        var maintenance = host.Services.GetRequiredService<IPartitionMaintenance>();

        var plan = await maintenance.RunMaintenanceAsync(dryRun: true);
        Assert.Equal(
            ["Create m_first_p2026_11", "Create m_first_p2026_12", "Create m_second_p2026_10", "Create m_second_p2026_11", "Create m_second_p2026_12",
                "Drop m_first_p2026_01"],
            plan.Actions.Select(a => $"{a.Kind} {a.Partition}"));
        Assert.Equal(plan.Actions, (await maintenance.RunMaintenanceAsync()).Actions);
    }

    [Fact]
    public async Task A_partition_bounded_by_MINVALUE_is_left_to_its_owner_and_the_run_goes_on()
    {
        var (host, _, maintenance) = await TableAsync("m_minvalue", t => t.Retention = 2);
        using var _ = host;
        await database.DataSource.ExecAsync(
            "CREATE TABLE m_minvalue_old PARTITION OF m_minvalue FOR VALUES FROM (MINVALUE) TO ('2026-01-01');"
            + "CREATE TABLE m_minvalue_p2026_02 PARTITION OF m_minvalue FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');"
            + "INSERT INTO m_minvalue VALUES (1, '2020-01-01', 'old'), (2, '2026-02-02', 'expired')");

        var result = await maintenance.RunMaintenanceAsync(); // threw "Nullable object must have a value" before
        Assert.Empty(result.Failures);
        Assert.Equal(["Create m_minvalue_p2026_11", "Create m_minvalue_p2026_12", "Create m_minvalue_p2027_01", "Drop m_minvalue_p2026_02"],
            result.Actions.Select(a => $"{a.Kind} {a.Partition}"));
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_minvalue"));
        Assert.Equal(1, (await maintenance.GetHealthAsync()).Single().PartitionsPastRetention); // still shown: it is past retention
    }

    [Theory]
    [InlineData("bigint", "is of type bigint, not a time column")]
    [InlineData("date", null)]
    [InlineData("timestamp", null)]
    public async Task A_non_time_partition_column_fails_the_start_naming_the_setting(string type, string? expected)
    {
        var name = "m_type_" + type;
        var (host, _, _) = await TableAsync(name, options: o => o.RunMaintenanceOnStart = true, columnType: type);
        using var _ = host;
        if (expected is null)
        {
            await host.StartAsync();
            Assert.Equal(5, (await database.DataSource.PartitionsAsync("public." + name)).Count);
            await host.StopAsync();
            return;
        }

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());
        Assert.StartsWith("ScaleOps:Partitioning:Tables:0:Column 'created_at' " + expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_declared_table_not_partitioned_yet_does_not_fail_the_start_and_says_how_to_convert_it()
    {
        // The README's conversion: the plain table is declared in Tables before ITableMigrator converts it.
        await database.DataSource.ExecAsync("CREATE TABLE m_plain (id bigint PRIMARY KEY, created_at timestamptz, body text)");
        using var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.Tables.Add(new PartitionedTableOptions { Name = "m_plain", Column = "created_at", Premake = 2 });
        }, new FakeTimeProvider(TestHost.Monday), schema: "so_m_plain", services: s => s.AddFakeLogging());

        await host.StartAsync();
        var warnings = host.Services.GetFakeLogCollector().GetSnapshot().Where(r => r.Id.Id == 4014).ToList();
        // Once per start: the start's table check and its first run each logged it (two identical warnings).
        Assert.Single(warnings);
        Assert.All(warnings, w => Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, w.Level));
        Assert.Contains("\"public\".\"m_plain\" is a plain table, not partitioned yet", warnings[0].Message, StringComparison.Ordinal);
        Assert.Contains("ITableMigrator.ConvertAsync(\"public\", \"m_plain\", \"<twin>\")", warnings[0].Message, StringComparison.Ordinal);
        Assert.Equal("r", await database.DataSource.ScalarAsync<string>("SELECT relkind::text FROM pg_class WHERE oid = 'm_plain'::regclass"));
        var run = await host.Services.GetRequiredService<IPartitionMaintenance>().RunMaintenanceAsync();
        Assert.Empty(run.Failures);
        await host.StopAsync();
    }

    [Fact]
    public async Task The_hosted_service_runs_at_start_and_on_its_schedule()
    {
        var (host, time, _) = await TableAsync("m_hosted", options: o => { o.RunMaintenanceOnStart = true; o.MaintenanceInterval = TimeSpan.FromDays(1); });
        using var _ = host;
        var service = host.Services.GetServices<IHostedService>().OfType<Internal.MaintenanceHostedService>().Single();
        var ran = new TaskCompletionSource();
        service.Ran += () => ran.TrySetResult();
        await host.StartAsync();
        Assert.Equal(5, (await database.DataSource.PartitionsAsync("public.m_hosted")).Count);

        time.Advance(TimeSpan.FromDays(40)); // 2027-01-02: 2027_02 and 2027_03 are due
        await ran.Task.WaitAsync("the scheduled maintenance run");
        Assert.Contains(await database.DataSource.PartitionsAsync("public.m_hosted"), p => p.StartsWith("m_hosted_p2027_03 ", StringComparison.Ordinal));
        await host.StopAsync();
    }
}
