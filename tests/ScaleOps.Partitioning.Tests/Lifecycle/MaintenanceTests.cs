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

public class MaintenanceTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private async Task<(IHost Host, FakeTimeProvider Time, IPartitionMaintenance Maintenance)> TableAsync(
        string name, Action<PartitionedTableOptions>? table = null, Action<PartitioningOptions>? options = null, string columnType = "timestamptz",
        Action<IServiceCollection>? services = null)
    {
        var quoted = SqlIdentifier.Qualify("public", name);
        await database.DataSource.ExecAsync(
            $"CREATE TABLE {quoted} (id bigint NOT NULL, created_at {columnType} NOT NULL, body text) PARTITION BY RANGE (created_at)");
        var time = new FakeTimeProvider(TestHost.Monday);
        var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            var t = new PartitionedTableOptions { Name = name, Column = "created_at", Premake = 2 };
            table?.Invoke(t);
            o.Tables.Add(t);
            options?.Invoke(o);
        }, time, schema: "so_" + Math.Abs(name.GetHashCode(StringComparison.Ordinal)).ToString(System.Globalization.CultureInfo.InvariantCulture), services);
        return (host, time, host.Services.GetRequiredService<IPartitionMaintenance>());
    }

    [Fact]
    public async Task Creates_past_current_and_future_partitions_once_with_pg_partman_names()
    {
        var (host, _, maintenance) = await TableAsync("m_create");
        using var _ = host;

        var first = await maintenance.RunMaintenanceAsync();
        Assert.True(first.Ran);
        Assert.Equal(
            ["m_create_p2026_09", "m_create_p2026_10", "m_create_p2026_11", "m_create_p2026_12", "m_create_p2027_01"],
            first.Actions.Select(a => a.Partition));
        Assert.Contains(
            "m_create_p2026_11 FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-12-01 00:00:00+00')",
            await database.DataSource.PartitionsAsync("public.m_create"));

        var second = await maintenance.RunMaintenanceAsync();
        Assert.Empty(second.Actions);
        Assert.Equal(5, (await database.DataSource.PartitionsAsync("public.m_create")).Count);
    }

    [Fact]
    public async Task A_dry_run_returns_the_plan_and_changes_nothing()
    {
        var (host, time, maintenance) = await TableAsync("m_dry", t => t.Retention = 3, services: s => s.AddFakeLogging());
        using var _ = host;
        await maintenance.RunMaintenanceAsync();
        time.Advance(TimeSpan.FromDays(200)); // 2027-06-11: retention now reaches 2026_09..2027_02

        var logs = host.Services.GetFakeLogCollector();
        logs.Clear();
        var plan = await maintenance.RunMaintenanceAsync(dryRun: true);
        Assert.True(plan.DryRun);
        Assert.Equal(
            ["Create m_dry_p2027_06", "Create m_dry_p2027_07", "Create m_dry_p2027_08", "Drop m_dry_p2026_09", "Drop m_dry_p2026_10", "Drop m_dry_p2026_11",
             "Drop m_dry_p2026_12", "Drop m_dry_p2027_01"],
            plan.Actions.Select(a => $"{a.Kind} {a.Partition}"));
        // The plan is printed (logged, 4015) step by step, not only returned.
        var printed = logs.GetSnapshot().Where(r => r.Id.Id == 4015).Select(r => r.Message).ToList();
        Assert.Equal(8, printed.Count);
        Assert.StartsWith("Dry run, planned step 1 of 8: Create m_dry_p2027_06 of \"public\".\"m_dry\"", printed[0], StringComparison.Ordinal);
        Assert.StartsWith("Dry run, planned step 8 of 8: Drop m_dry_p2027_01", printed[7], StringComparison.Ordinal);
        Assert.Equal(5, (await database.DataSource.PartitionsAsync("public.m_dry")).Count);

        var done = await maintenance.RunMaintenanceAsync();
        Assert.Equal(plan.Actions, done.Actions);
        Assert.Equal(["m_dry_p2027_06", "m_dry_p2027_07", "m_dry_p2027_08"],
            (await database.DataSource.PartitionsAsync("public.m_dry")).Select(p => p.Split(' ')[0]));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'm_dry_p2026_09'"));
    }

    [Fact]
    public async Task Retention_in_detach_mode_keeps_the_table_and_its_rows()
    {
        var (host, time, maintenance) = await TableAsync("m_detach", t => { t.Retention = 2; t.RetentionMode = RetentionMode.Detach; });
        using var _ = host;
        await maintenance.RunMaintenanceAsync();
        await database.DataSource.ExecAsync("INSERT INTO m_detach VALUES (1, '2026-09-15', 'old'), (2, '2026-11-15', 'current')");
        time.Advance(TimeSpan.FromDays(40)); // 2027-01-02: cutoff 2026-11-01

        var result = await maintenance.RunMaintenanceAsync();
        Assert.Equal(["Detach m_detach_p2026_09", "Detach m_detach_p2026_10"],
            result.Actions.Where(a => a.Kind != PartitionActionKind.Create).Select(a => $"{a.Kind} {a.Partition}"));
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_detach"));
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_detach_p2026_09"));
        Assert.False(await database.DataSource.ScalarAsync<bool>("SELECT relispartition FROM pg_class WHERE relname = 'm_detach_p2026_09'"));
    }

    [Fact]
    public async Task Rows_in_a_default_partition_move_to_proper_partitions_without_loss()
    {
        var (host, _, maintenance) = await TableAsync("m_default");
        using var _ = host;
        await database.DataSource.ExecAsync("CREATE TABLE m_default_default PARTITION OF m_default DEFAULT");
        await database.DataSource.ExecAsync(
            "INSERT INTO m_default SELECT g, timestamptz '2026-03-01' + g * interval '1 day', 'row ' || g FROM generate_series(0, 99) g");
        var before = await database.DataSource.ScalarAsync<string>("SELECT md5(string_agg(m_default::text, '|' ORDER BY id)) FROM m_default");

        using var gauge = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(
            host.Services.GetRequiredService<ScaleOps.Diagnostics.ScaleOpsMetrics>().Meter, "scaleops.partitioning.default_rows");
        var health = (await maintenance.GetHealthAsync()).Single();
        Assert.Equal(100, health.DefaultPartitionRows);
        Assert.False(health.IsHealthy);
        gauge.RecordObservableInstruments();
        Assert.Equal(100, gauge.LastMeasurement!.Value);
        Assert.Equal("\"public\".\"m_default\"", gauge.LastMeasurement.Tags["table"]);

        var result = await maintenance.RunMaintenanceAsync();
        var moves = result.Actions.Where(a => a.Kind == PartitionActionKind.MoveFromDefault).ToList();
        Assert.Equal(["m_default_p2026_03", "m_default_p2026_04", "m_default_p2026_05", "m_default_p2026_06"], moves.Select(m => m.Partition));
        Assert.Equal(100, moves.Sum(m => m.Rows));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_default_default"));
        Assert.Equal(before, await database.DataSource.ScalarAsync<string>("SELECT md5(string_agg(m_default::text, '|' ORDER BY id)) FROM m_default"));
        Assert.Equal(31L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_default_p2026_03"));
        Assert.True((await maintenance.GetHealthAsync()).Single().IsHealthy);
    }

    /// <summary>
    /// Makes each DELETE on <paramref name="defaultPartition"/> wait on advisory lock <paramref name="key"/>, held by the
    /// returned connection (<c>pg_advisory_unlock</c> on it lets the move go on), starts maintenance and returns once
    /// its move waits there.
    /// </summary>
    private async Task<(NpgsqlConnection Pauser, Task<MaintenanceResult> Run)> StartPausedMoveAsync(IPartitionMaintenance maintenance, string defaultPartition, int key)
    {
        await database.DataSource.ExecAsync(
            $"CREATE FUNCTION {defaultPartition}_pause() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock({key}); RETURN OLD; END $$;"
            + $"CREATE TRIGGER pause BEFORE DELETE ON {defaultPartition} FOR EACH ROW EXECUTE FUNCTION {defaultPartition}_pause()");
        var pauser = await database.DataSource.OpenConnectionAsync();
        await using (var pause = new NpgsqlCommand($"SELECT pg_advisory_lock({key})", pauser))
        {
            await pause.ExecuteNonQueryAsync();
        }

        var run = maintenance.RunMaintenanceAsync();
        await TestSignal.UntilAsync(async () => run.IsCompleted || await database.DataSource.ScalarAsync<long>(
            $"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {key} AND NOT granted") > 0, "the move to reach its DELETE");
        return (pauser, run);
    }

    [Fact]
    public async Task Moving_default_rows_validates_the_exclusion_while_readers_of_the_table_go_on()
    {
        var (host, _, maintenance) = await TableAsync("m_validate", options: o => o.LockTimeout = TimeSpan.FromMinutes(1));
        using var _ = host;
        await database.DataSource.ExecAsync(
            "CREATE TABLE m_validate_default PARTITION OF m_validate DEFAULT;"
            + "INSERT INTO m_validate SELECT g, timestamptz '2026-03-01' + g * interval '1 day', 'row ' || g FROM generate_series(0, 9) g");
        // The move's DELETE pauses on an advisory lock the test holds: the point just before the exclusion is validated.
        var (pauser, run) = await StartPausedMoveAsync(maintenance, "m_validate_default", 4242);
        await using var _pauser = pauser;

        // A maintenance-like session holds SHARE UPDATE EXCLUSIVE on the default (allowed next to the DELETE), so the
        // step after the DELETE waits for it: the lock it asks for there is what readers would queue behind.
        await using var holder = await database.DataSource.OpenConnectionAsync();
        await using var holderTx = await holder.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("LOCK TABLE m_validate_default IN SHARE UPDATE EXCLUSIVE MODE", holder, holderTx))
        {
            await hold.ExecuteNonQueryAsync();
        }

        await using (var release = new NpgsqlCommand("SELECT pg_advisory_unlock(4242)", pauser))
        {
            await release.ExecuteNonQueryAsync();
        }

        await TestSignal.UntilAsync(async () => run.IsCompleted || await database.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_locks WHERE relation = 'm_validate_default'::regclass AND NOT granted") > 0, "the validation to wait");
        Assert.False(run.IsCompleted);
        Assert.Equal(["ShareUpdateExclusiveLock"], await database.DataSource.ColumnAsync(
            "SELECT mode FROM pg_locks WHERE relation = 'm_validate_default'::regclass AND NOT granted"));
        await using (var reader = await database.DataSource.OpenConnectionAsync())
        {
            await using var probe = new NpgsqlCommand("SET lock_timeout = '200ms'; SELECT count(*) FROM m_validate", reader);
            Assert.Equal(10L, (long)(await probe.ExecuteScalarAsync())!);
        }

        await holderTx.CommitAsync();
        var result = await run.WaitAsync("the move once the validation can run");
        Assert.Empty(result.Failures);
        Assert.Equal(10L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_validate_p2026_03"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_validate_default"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'm_validate_default'::regclass AND contype = 'c'"));
    }

    [Fact]
    public async Task The_open_period_stays_in_the_default_until_it_closes_and_its_writes_land_there()
    {
        // The current period (2026-11 on the fake clock) has rows in the default partition and is written to: moving it
        // would lock the default (ACCESS EXCLUSIVE) or refuse its INSERTs, so it waits there until it has closed.
        var (host, time, maintenance) = await TableAsync("m_open");
        using var _ = host;
        await database.DataSource.ExecAsync(
            "CREATE TABLE m_open_default PARTITION OF m_open DEFAULT;"
            + "INSERT INTO m_open SELECT g, timestamptz '2026-11-01' + g * interval '1 hour', 'row ' || g FROM generate_series(0, 9) g;"
            + "INSERT INTO m_open SELECT g, timestamptz '2026-10-01' + g * interval '1 day', 'row ' || g FROM generate_series(10, 14) g");

        var plan = await maintenance.RunMaintenanceAsync(dryRun: true);
        Assert.DoesNotContain(plan.Actions, a => a.Partition == "m_open_p2026_11");
        var result = await maintenance.RunMaintenanceAsync();
        Assert.Empty(result.Failures);
        Assert.Equal(["MoveFromDefault m_open_p2026_10"],
            result.Actions.Where(a => a.Kind == PartitionActionKind.MoveFromDefault).Select(a => $"{a.Kind} {a.Partition}"));
        Assert.DoesNotContain(result.Actions, a => a.Partition == "m_open_p2026_11");
        await database.DataSource.ExecAsync("INSERT INTO m_open VALUES (100, '2026-11-23 09:00+00', 'live')");
        Assert.Equal(11L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_open_default"));
        Assert.Equal(5L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_open_p2026_10"));

        time.Advance(TimeSpan.FromDays(10)); // December: November has closed
        var closed = await maintenance.RunMaintenanceAsync();
        Assert.Empty(closed.Failures);
        Assert.Contains(closed.Actions, a => a.Kind == PartitionActionKind.MoveFromDefault && a.Partition == "m_open_p2026_11" && a.Rows == 11);
        Assert.Equal(11L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_open_p2026_11"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_open_default"));
    }

    [Fact]
    public async Task A_move_that_would_lose_rows_is_rolled_back()
    {
        var (host, _, maintenance) = await TableAsync("m_lossy");
        using var _ = host;
        await database.DataSource.ExecAsync(
            "CREATE TABLE m_lossy_default PARTITION OF m_lossy DEFAULT;"
            + "INSERT INTO m_lossy SELECT g, timestamptz '2026-03-01' + g * interval '1 day', 'row ' || g FROM generate_series(0, 9) g;"
            // Something swallows a row on its way into the new partition: a trigger put on it when it is created.
            + "CREATE FUNCTION m_lossy_lose() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.id = 3 THEN RETURN NULL; END IF; RETURN NEW; END $$;"
            + "CREATE FUNCTION m_lossy_arm() RETURNS event_trigger LANGUAGE plpgsql AS $$ DECLARE r record; BEGIN "
            + "FOR r IN SELECT object_identity FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' AND object_identity = 'public.m_lossy_p2026_03' LOOP "
            + "EXECUTE 'CREATE TRIGGER lose BEFORE INSERT ON public.m_lossy_p2026_03 FOR EACH ROW EXECUTE FUNCTION m_lossy_lose()'; END LOOP; END $$;"
            + "CREATE EVENT TRIGGER m_lossy_arm ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION m_lossy_arm()");
        try
        {
            var result = await maintenance.RunMaintenanceAsync();
            var failure = Assert.Single(result.Failures);
            Assert.Equal(PartitionActionKind.MoveFromDefault, failure.Action!.Kind);
            Assert.Contains("10 rows left the default partition, 9 were inserted and 9 are in", failure.Error.Message, StringComparison.Ordinal);
            Assert.Equal(10L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_lossy_default"));
            Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'm_lossy_p2026_03'"));
        }
        finally
        {
            await database.DataSource.ExecAsync("DROP EVENT TRIGGER m_lossy_arm");
        }
    }

    [Fact]
    public async Task A_failed_move_leaves_no_exclusion_behind_and_a_leftover_one_is_replaced()
    {
        var (host, _, maintenance) = await TableAsync("m_leftover");
        using var _ = host;
        await database.DataSource.ExecAsync(
            "CREATE TABLE m_leftover_default PARTITION OF m_leftover DEFAULT;"
            + "INSERT INTO m_leftover SELECT g, timestamptz '2026-03-01' + g * interval '1 day', 'row ' || g FROM generate_series(0, 9) g;"
            // What an interrupted run leaves: the NOT VALID exclusion of some period, committed.
            + "ALTER TABLE m_leftover_default ADD CONSTRAINT m_leftover_default_scaleops_excl "
            + "CHECK (NOT (created_at >= '2026-05-01' AND created_at < '2026-06-01')) NOT VALID;"
            + "CREATE FUNCTION m_leftover_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'move refused by the test'; END $$;"
            + "CREATE TRIGGER fail BEFORE DELETE ON m_leftover_default FOR EACH ROW EXECUTE FUNCTION m_leftover_fail()");
        const string checks = "SELECT count(*) FROM pg_constraint WHERE conrelid = 'm_leftover_default'::regclass AND contype = 'c'";

        var failed = await maintenance.RunMaintenanceAsync();
        var failure = Assert.Single(failed.Failures);
        Assert.Equal(PartitionActionKind.MoveFromDefault, failure.Action!.Kind);
        Assert.Contains("move refused by the test", failure.Error.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>(checks));
        Assert.Equal(10L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_leftover_default"));

        await database.DataSource.ExecAsync(
            "DROP TRIGGER fail ON m_leftover_default;"
            + "ALTER TABLE m_leftover_default ADD CONSTRAINT m_leftover_default_scaleops_excl "
            + "CHECK (NOT (created_at >= '2026-05-01' AND created_at < '2026-06-01')) NOT VALID");
        var moved = await maintenance.RunMaintenanceAsync();
        Assert.Empty(moved.Failures);
        Assert.Equal(10L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_leftover_p2026_03"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>(checks));
    }

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
        Assert.NotEmpty(warnings);
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
