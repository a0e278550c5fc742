using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

/// <summary>
/// Row-level security added to (or changed on) the parent after its partitions exist: PostgreSQL checks a statement
/// naming a partition against the partition's own settings and policies, so each maintenance run brings them in step.
/// </summary>
public partial class RowSecurityTests
{
    private (IHost Host, IPartitionMaintenance Maintenance) Maintained(string table, string? connectionString = null)
    {
        var host = TestHost.Build(connectionString ?? database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.Tables.Add(new PartitionedTableOptions { Name = table, Column = "created_at", Premake = 1 });
        }, new FakeTimeProvider(TestHost.Monday), schema: "so_" + table, services: s => s.AddFakeLogging());
        return (host, host.Services.GetRequiredService<IPartitionMaintenance>());
    }

    private async Task TenantTableAsync(string table) => await database.DataSource.ExecAsync(
        $"CREATE TABLE {table} (tenant_id text NOT NULL, created_at timestamptz NOT NULL, body text NOT NULL) PARTITION BY RANGE (created_at);"
        + $"GRANT SELECT ON {table} TO {Reader}");

    [Fact]
    public async Task A_policy_added_to_the_parent_after_its_partitions_exist_reaches_them_at_the_next_run()
    {
        await RolesAsync();
        await TenantTableAsync("rs_late");
        var (host, maintenance) = Maintained("rs_late");
        using var _ = host;
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures); // 2026_10 .. 2026_12, no row-level security yet
        await database.DataSource.ExecAsync("INSERT INTO rs_late VALUES ('t1', '2026-11-20', 'of t1'), ('t2', '2026-11-21', 'of t2')");
        Assert.Equal(["of t1", "of t2"], await ReadAsync("rs_late_p2026_11", "t1"));

        await database.DataSource.ExecAsync("ALTER TABLE rs_late ENABLE ROW LEVEL SECURITY;"
            + "CREATE POLICY tenant ON rs_late USING (tenant_id = current_setting('app.tenant_id', true))");
        Assert.Equal(["of t1"], await ReadAsync("rs_late", "t1")); // through the parent at once

        var result = await maintenance.RunMaintenanceAsync();

        Assert.Empty(result.Failures);
        Assert.Equal(["of t1"], await ReadAsync("rs_late_p2026_11", "t1"));
        Assert.Equal(["of t2"], await ReadAsync("rs_late_p2026_11", "t2"));
        Assert.Equal(["SyncRowSecurity rs_late_p2026_10", "SyncRowSecurity rs_late_p2026_11", "SyncRowSecurity rs_late_p2026_12"],
            result.Actions.Select(a => $"{a.Kind} {a.Partition}").Order(StringComparer.Ordinal));
    }

    /// <summary>Each policy on <paramref name="table"/> with its comment, <c>name=comment</c>, sorted.</summary>
    private Task<string> MarksAsync(string table) => database.DataSource.ScalarAsync<string>(
        "SELECT coalesce(string_agg(polname || '=' || coalesce(obj_description(oid, 'pg_policy'), '-'), ' | ' ORDER BY polname), '') "
        + $"FROM pg_policy WHERE polrelid = '{table}'::regclass");

    private const string Marker = "ScaleOps.Partitioning: copy of the parent table policy of this name, kept in step by maintenance";

    [Fact]
    public async Task Force_and_changed_policies_of_the_parent_replace_the_partitions_copies_and_a_dry_run_only_lists_them()
    {
        await RolesAsync();
        await TenantTableAsync("rs_change");
        await database.DataSource.ExecAsync("ALTER TABLE rs_change ENABLE ROW LEVEL SECURITY;"
            + "CREATE POLICY tenant ON rs_change USING (tenant_id = current_setting('app.tenant_id', true));"
            + "CREATE POLICY \"Old One\" ON rs_change FOR SELECT USING (true)");
        var (host, maintenance) = Maintained("rs_change");
        using var _ = host;
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        // The copies made with the partitions are marked as the parent's.
        Assert.Equal($"Old One={Marker} | tenant={Marker}", await MarksAsync("rs_change_p2026_11"));
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Actions); // in step: nothing to do

        await database.DataSource.ExecAsync("ALTER TABLE rs_change FORCE ROW LEVEL SECURITY;"
            + "DROP POLICY \"Old One\" ON rs_change;"
            + $"ALTER POLICY tenant ON rs_change TO {Reader} USING (tenant_id = current_setting('app.tenant_id', true) AND body <> 'hidden');"
            + "CREATE POLICY \"no past\" ON rs_change AS RESTRICTIVE FOR INSERT WITH CHECK (created_at > '2020-01-01')");
        var plan = await maintenance.RunMaintenanceAsync(dryRun: true);
        Assert.Equal(["SyncRowSecurity rs_change_p2026_10", "SyncRowSecurity rs_change_p2026_11", "SyncRowSecurity rs_change_p2026_12"],
            plan.Actions.Select(a => $"{a.Kind} {a.Partition}"));
        Assert.Equal($"Old One={Marker} | tenant={Marker}", await MarksAsync("rs_change_p2026_11")); // unchanged

        var result = await maintenance.RunMaintenanceAsync();

        Assert.Empty(result.Failures);
        Assert.Equal(plan.Actions.Select(a => a.Partition), result.Actions.Select(a => a.Partition));
        Assert.All(result.Actions, a => Assert.Equal(PartitionActionKind.SyncRowSecurity, a.Kind));
        var parent = await database.DataSource.ScalarAsync<string>(Policies("rs_change"));
        Assert.Contains("no past false a", parent, StringComparison.Ordinal);
        foreach (var partition in new[] { "rs_change_p2026_10", "rs_change_p2026_11", "rs_change_p2026_12" })
        {
            Assert.Equal(parent, await database.DataSource.ScalarAsync<string>(Policies(partition)));
            Assert.Equal($"no past={Marker} | tenant={Marker}", await MarksAsync(partition));
            Assert.True(await database.DataSource.ScalarAsync<bool>(
                $"SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = '{partition}'::regclass"), partition);
        }

        await database.DataSource.ExecAsync("INSERT INTO rs_change VALUES ('t1', '2026-11-20', 'of t1'), ('t1', '2026-11-21', 'hidden')");
        Assert.Equal(["of t1"], await ReadAsync("rs_change_p2026_11", "t1"));
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Actions);
        Assert.True(Assert.Single(await maintenance.GetHealthAsync()).IsHealthy);
    }

    [Fact]
    public async Task A_policy_dropped_on_the_parent_is_dropped_from_the_partitions_but_one_made_on_a_partition_by_hand_stays()
    {
        await RolesAsync();
        await TenantTableAsync("rs_drop");
        var (host, maintenance) = Maintained("rs_drop");
        using var _ = host;
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        await database.DataSource.ExecAsync("ALTER TABLE rs_drop ENABLE ROW LEVEL SECURITY;"
            + "CREATE POLICY tenant ON rs_drop USING (tenant_id = current_setting('app.tenant_id', true));"
            + "CREATE POLICY everyone ON rs_drop FOR SELECT USING (true);"
            + "CREATE POLICY everyone ON rs_drop_p2026_10 FOR SELECT USING (true);" // an earlier copy, unmarked
            + "ALTER TABLE rs_drop_p2026_11 ENABLE ROW LEVEL SECURITY;"
            + "CREATE POLICY \"mine\" ON rs_drop_p2026_11 FOR SELECT USING (body = 'shared')"); // made on the partition by hand
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        Assert.Equal($"everyone={Marker} | tenant={Marker}", await MarksAsync("rs_drop_p2026_10"));
        Assert.Equal($"everyone={Marker} | mine=- | tenant={Marker}", await MarksAsync("rs_drop_p2026_11"));
        await database.DataSource.ExecAsync("INSERT INTO rs_drop VALUES ('t1', '2026-11-20', 'of t1'), ('t2', '2026-11-21', 'of t2'), ('t2', '2026-11-22', 'shared')");
        Assert.Equal(["of t1", "of t2", "shared"], await ReadAsync("rs_drop_p2026_11", "t1")); // "everyone" lets all through

        await database.DataSource.ExecAsync("DROP POLICY everyone ON rs_drop");
        var result = await maintenance.RunMaintenanceAsync();

        Assert.Empty(result.Failures);
        Assert.Equal(["SyncRowSecurity rs_drop_p2026_10", "SyncRowSecurity rs_drop_p2026_11", "SyncRowSecurity rs_drop_p2026_12"],
            result.Actions.Select(a => $"{a.Kind} {a.Partition}"));
        Assert.Equal($"tenant={Marker}", await MarksAsync("rs_drop_p2026_10"));
        Assert.Equal($"mine=- | tenant={Marker}", await MarksAsync("rs_drop_p2026_11"));
        Assert.Equal(["of t1", "shared"], await ReadAsync("rs_drop_p2026_11", "t1"));
        // The policy made by hand is not the parent's, and is not counted as a difference.
        Assert.Equal(0, Assert.Single(await maintenance.GetHealthAsync()).PartitionRowSecurityNotAsParent);
    }

    [Fact]
    public async Task Row_level_security_disabled_on_the_parent_stays_on_the_partitions_and_the_health_report_says_so()
    {
        await RolesAsync();
        await TenantTableAsync("rs_off");
        await database.DataSource.ExecAsync("ALTER TABLE rs_off ENABLE ROW LEVEL SECURITY;"
            + "CREATE POLICY tenant ON rs_off USING (tenant_id = current_setting('app.tenant_id', true))");
        var (host, maintenance) = Maintained("rs_off");
        using var _ = host;
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        Assert.True(Assert.Single(await maintenance.GetHealthAsync()).IsHealthy);
        var logs = host.Services.GetFakeLogCollector();
        logs.Clear();

        await database.DataSource.ExecAsync("ALTER TABLE rs_off DISABLE ROW LEVEL SECURITY");
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Actions);
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Actions);

        Assert.True(await database.DataSource.ScalarAsync<bool>("SELECT relrowsecurity FROM pg_class WHERE oid = 'rs_off_p2026_11'::regclass"));
        await database.DataSource.ExecAsync("INSERT INTO rs_off VALUES ('t1', '2026-11-20', 'of t1'), ('t2', '2026-11-21', 'of t2')");
        Assert.Equal(["of t1"], await ReadAsync("rs_off_p2026_11", "t1"));
        using var gauge = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(
            host.Services.GetRequiredService<ScaleOps.Diagnostics.ScaleOpsMetrics>().Meter, "scaleops.partitioning.partition_row_security_not_as_parent");
        var health = Assert.Single(await maintenance.GetHealthAsync());
        Assert.Equal(3, health.PartitionRowSecurityNotAsParent);
        Assert.False(health.IsHealthy);
        gauge.RecordObservableInstruments();
        Assert.Equal(3, gauge.LastMeasurement!.Value);
        Assert.Equal("\"public\".\"rs_off\"", gauge.LastMeasurement.Tags["table"]);
        // Logged once per partition over the two runs (4017), naming it.
        var warnings = logs.GetSnapshot().Where(r => r.Id.Id == 4017).ToList();
        Assert.Equal(["rs_off_p2026_10", "rs_off_p2026_11", "rs_off_p2026_12"], warnings.Select(w => w.GetStructuredStateValue("Partition")));
        Assert.All(warnings, w => Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, w.Level));
        Assert.Contains("has row-level security enabled and the parent has not", warnings[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_partition_whose_owner_maintenance_cannot_act_as_is_left_logged_once_and_counted()
    {
        await RolesAsync();
        await database.DataSource.ExecAsync(
            "CREATE TABLE rs_alien (tenant_id text NOT NULL, created_at timestamptz NOT NULL, body text NOT NULL) PARTITION BY RANGE (created_at);"
            + $"ALTER TABLE rs_alien OWNER TO {Owner}");
        var owner = new Npgsql.NpgsqlConnectionStringBuilder(database.ConnectionString) { Username = Owner }.ToString();
        var (host, maintenance) = Maintained("rs_alien", owner);
        using var _ = host;
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        await database.DataSource.ExecAsync($"ALTER TABLE rs_alien_p2026_11 OWNER TO {Reader};"
            + "ALTER TABLE rs_alien ENABLE ROW LEVEL SECURITY;"
            + "CREATE POLICY tenant ON rs_alien USING (tenant_id = current_setting('app.tenant_id', true))");
        var logs = host.Services.GetFakeLogCollector();
        logs.Clear();

        var first = await maintenance.RunMaintenanceAsync();
        var second = await maintenance.RunMaintenanceAsync();

        Assert.Empty(first.Failures);
        Assert.Equal(["SyncRowSecurity rs_alien_p2026_10", "SyncRowSecurity rs_alien_p2026_12"], first.Actions.Select(a => $"{a.Kind} {a.Partition}"));
        Assert.Empty(second.Actions);
        var warning = Assert.Single(logs.GetSnapshot(), r => r.Id.Id == 4017);
        Assert.Equal("rs_alien_p2026_11", warning.GetStructuredStateValue("Partition"));
        Assert.Contains($"cannot act as its owner \"{Reader}\"", warning.Message, StringComparison.Ordinal);
        Assert.Equal(1, Assert.Single(await maintenance.GetHealthAsync()).PartitionRowSecurityNotAsParent);

        // Brought in step by hand: the partition no longer counts.
        await database.DataSource.ExecAsync($"ALTER TABLE rs_alien_p2026_11 OWNER TO {Owner}");
        Assert.Equal(["SyncRowSecurity rs_alien_p2026_11"], (await maintenance.RunMaintenanceAsync()).Actions.Select(a => $"{a.Kind} {a.Partition}"));
        Assert.True(Assert.Single(await maintenance.GetHealthAsync()).IsHealthy);
    }
}
