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

public partial class MaintenanceTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private async Task<(IHost Host, FakeTimeProvider Time, IPartitionMaintenance Maintenance)> TableAsync(
        string name, Action<PartitionedTableOptions>? table = null, Action<PartitioningOptions>? options = null, string columnType = "timestamptz",
        Action<IServiceCollection>? services = null, string? connectionString = null)
    {
        var quoted = SqlIdentifier.Qualify("public", name);
        await database.DataSource.ExecAsync(
            $"CREATE TABLE {quoted} (id bigint NOT NULL, created_at {columnType} NOT NULL, body text) PARTITION BY RANGE (created_at)");
        var time = new FakeTimeProvider(TestHost.Monday);
        var host = TestHost.Build(connectionString ?? database.ConnectionString, o =>
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
        // A step that moves no rows says nothing of rows (it printed "((null) rows to move)").
        Assert.Equal("Dry run, planned step 1 of 8: Create m_dry_p2027_06 of \"public\".\"m_dry\"", printed[0]);
        Assert.Equal("Dry run, planned step 8 of 8: Drop m_dry_p2027_01 of \"public\".\"m_dry\"", printed[7]);
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
    /// Makes each row the move INSERTs into the new partition <paramref name="partition"/> wait on advisory lock
    /// <paramref name="key"/>, held by the returned connection (<c>pg_advisory_unlock</c> on it lets the move go on),
    /// starts maintenance and returns once its move waits there (the move's DELETE ... INSERT statement, before the
    /// validation). The hook is a trigger on the new partition (user triggers of the default are suspended during the
    /// move); <see cref="DisarmAsync"/> removes the event trigger that puts it there.
    /// </summary>
    private async Task<(NpgsqlConnection Pauser, Task<MaintenanceResult> Run)> StartPausedMoveAsync(IPartitionMaintenance maintenance, string partition, int key)
    {
        await ArmAsync(partition, $"PERFORM pg_advisory_xact_lock({key}); RETURN NEW;");
        var pauser = await database.DataSource.OpenConnectionAsync();
        await using (var pause = new NpgsqlCommand($"SELECT pg_advisory_lock({key})", pauser))
        {
            await pause.ExecuteNonQueryAsync();
        }

        var run = maintenance.RunMaintenanceAsync();
        await TestSignal.UntilAsync(async () => run.IsCompleted || await database.DataSource.ScalarAsync<long>(
            $"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {key} AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())") > 0, "the move to reach its DELETE");
        return (pauser, run);
    }

    /// <summary>
    /// An event trigger that, when the table <c>public.{partition}</c> is created (by a move), gives it a BEFORE INSERT
    /// row trigger running <paramref name="body"/> (plpgsql).
    /// </summary>
    private Task ArmAsync(string partition, string body) => database.DataSource.ExecAsync(
        $"CREATE FUNCTION {partition}_hook() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} END $$;"
        + $"CREATE FUNCTION {partition}_arm() RETURNS event_trigger LANGUAGE plpgsql AS $$ DECLARE r record; BEGIN "
        + $"FOR r IN SELECT object_identity FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' AND object_identity = 'public.{partition}' LOOP "
        + $"EXECUTE 'CREATE TRIGGER hook BEFORE INSERT ON public.{partition} FOR EACH ROW EXECUTE FUNCTION {partition}_hook()'; END LOOP; END $$;"
        + $"CREATE EVENT TRIGGER {partition}_arm ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION {partition}_arm()");

    private Task DisarmAsync(string partition) => database.DataSource.ExecAsync($"DROP EVENT TRIGGER IF EXISTS {partition}_arm");

    [Fact]
    public async Task Moving_default_rows_validates_the_exclusion_while_readers_of_the_table_go_on()
    {
        var (host, _, maintenance) = await TableAsync("m_validate", options: o => o.LockTimeout = TimeSpan.FromMinutes(1));
        using var _ = host;
        await database.DataSource.ExecAsync(
            "CREATE TABLE m_validate_default PARTITION OF m_validate DEFAULT;"
            + "INSERT INTO m_validate SELECT g, timestamptz '2026-03-01' + g * interval '1 day', 'row ' || g FROM generate_series(0, 9) g");
        // The move's DELETE ... INSERT pauses on an advisory lock the test holds: the point just before the exclusion is validated.
        var (pauser, run) = await StartPausedMoveAsync(maintenance, "m_validate_p2026_03", 4242);
        await using var _pauser = pauser;
        await DisarmAsync("m_validate_p2026_03"); // the move has created its table: the hook is on it

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
        var (host, time, maintenance) = await TableAsync("m_open", services: s => s.AddFakeLogging());
        using var _ = host;
        await database.DataSource.ExecAsync(
            "CREATE TABLE m_open_default PARTITION OF m_open DEFAULT;"
            + "INSERT INTO m_open SELECT g, timestamptz '2026-11-01' + g * interval '1 hour', 'row ' || g FROM generate_series(0, 9) g;"
            + "INSERT INTO m_open SELECT g, timestamptz '2026-10-01' + g * interval '1 day', 'row ' || g FROM generate_series(10, 14) g");

        var logs = host.Services.GetFakeLogCollector();
        var plan = await maintenance.RunMaintenanceAsync(dryRun: true);
        Assert.DoesNotContain(plan.Actions, a => a.Partition == "m_open_p2026_11");
        Assert.Contains("Dry run, planned step 4 of 4: MoveFromDefault m_open_p2026_10 of \"public\".\"m_open\" (5 rows to move)",
            logs.GetSnapshot().Where(r => r.Id.Id == 4015).Select(r => r.Message));
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
            + "CHECK (NOT (created_at >= '2026-05-01' AND created_at < '2026-06-01')) NOT VALID");
        await ArmAsync("m_leftover_p2026_03", "RAISE EXCEPTION 'move refused by the test';");
        const string checks = "SELECT count(*) FROM pg_constraint WHERE conrelid = 'm_leftover_default'::regclass AND contype = 'c'";

        MaintenanceResult failed;
        try
        {
            failed = await maintenance.RunMaintenanceAsync();
        }
        finally
        {
            await DisarmAsync("m_leftover_p2026_03");
        }

        var failure = Assert.Single(failed.Failures);
        Assert.Equal(PartitionActionKind.MoveFromDefault, failure.Action!.Kind);
        Assert.Contains("move refused by the test", failure.Error.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>(checks));
        Assert.Equal(10L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_leftover_default"));

        await database.DataSource.ExecAsync(
            "ALTER TABLE m_leftover_default ADD CONSTRAINT m_leftover_default_scaleops_excl "
            + "CHECK (NOT (created_at >= '2026-05-01' AND created_at < '2026-06-01')) NOT VALID");
        var moved = await maintenance.RunMaintenanceAsync();
        Assert.Empty(moved.Failures);
        Assert.Equal(10L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_leftover_p2026_03"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>(checks));
    }
}
