using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

/// <summary>
/// A parent's row-level security does not cover a partition queried by its own name: the partitions this package
/// creates get the parent's settings and policies, and no maintenance step reads a protected table through a filter.
/// </summary>
public partial class RowSecurityTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private const string Reader = "so_rls_part_reader";
    private const string Owner = "so_rls_part_owner";

    private async Task RolesAsync()
    {
        foreach (var role in new[] { Reader, Owner })
        {
            await PostgresServer.ExecuteAsync(
                $"DO $$ BEGIN CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
        }

        await database.DataSource.ExecAsync($"GRANT CREATE ON DATABASE \"{database.Name}\" TO {Owner}; GRANT CREATE ON SCHEMA public TO {Owner}");
    }

    private static string Policies(string table) =>
        "SELECT string_agg(polname || ' ' || polpermissive || ' ' || polcmd::text || ' ' || polroles::text || ' ' || coalesce(pg_get_expr(polqual, polrelid), '-') "
        + $"|| ' ' || coalesce(pg_get_expr(polwithcheck, polrelid), '-'), ' | ' ORDER BY polname) FROM pg_policy WHERE polrelid = '{table}'::regclass";

    /// <summary>The bodies a role sees for a tenant when it names <paramref name="table"/> directly.</summary>
    private async Task<string[]> ReadAsync(string table, string tenant)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand($"SET LOCAL ROLE {Reader}", connection, transaction);
        await command.ExecuteNonQueryAsync();
        command.CommandText = "SELECT set_config('app.tenant_id', $1, true)";
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        await command.ExecuteNonQueryAsync();
        command.Parameters.Clear();
        command.CommandText = $"SELECT body FROM {table} ORDER BY body";
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new System.Collections.Generic.List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        return [.. rows];
    }

    [Fact]
    public async Task Partitions_made_by_maintenance_or_moved_out_of_the_default_carry_the_parents_security()
    {
        await RolesAsync();
        await database.DataSource.ExecAsync(
            "CREATE TABLE rs_copy (tenant_id text NOT NULL, created_at timestamptz NOT NULL, body text NOT NULL) PARTITION BY RANGE (created_at);"
            + "CREATE TABLE rs_copy_default PARTITION OF rs_copy DEFAULT;"
            + "INSERT INTO rs_copy VALUES ('t1', '2026-10-05', 'stray of t1'), ('t2', '2026-10-06', 'stray of t2');"
            + "ALTER TABLE rs_copy ENABLE ROW LEVEL SECURITY; ALTER TABLE rs_copy FORCE ROW LEVEL SECURITY;"
            + "CREATE POLICY tenant ON rs_copy USING (tenant_id = current_setting('app.tenant_id', true));"
            + $"CREATE POLICY \"no 'late' rows\" ON rs_copy AS RESTRICTIVE FOR INSERT TO {Reader}, PUBLIC WITH CHECK (created_at > '2020-01-01');"
            + $"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO {Reader}");
        using var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.Tables.Add(new PartitionedTableOptions { Name = "rs_copy", Column = "created_at", Premake = 1 });
        }, new FakeTimeProvider(TestHost.Monday), schema: "so_rs_copy");

        var result = await host.Services.GetRequiredService<IPartitionMaintenance>().RunMaintenanceAsync();
        // The default partition existed before the parent's row-level security: the run's sync gives it the parent's.
        Assert.Equal(["Create rs_copy_p2026_11", "Create rs_copy_p2026_12", "MoveFromDefault rs_copy_p2026_10", "SyncRowSecurity rs_copy_default"],
            result.Actions.Select(a => $"{a.Kind} {a.Partition}").Order(StringComparer.Ordinal));

        var parentPolicies = await database.DataSource.ScalarAsync<string>(Policies("rs_copy"));
        Assert.Contains("no 'late' rows", parentPolicies, StringComparison.Ordinal);
        foreach (var partition in new[] { "rs_copy_p2026_10", "rs_copy_p2026_11", "rs_copy_p2026_12" })
        {
            Assert.True(await database.DataSource.ScalarAsync<bool>(
                $"SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = '{partition}'::regclass"), partition);
            Assert.Equal(parentPolicies, await database.DataSource.ScalarAsync<string>(Policies(partition)));
        }

        await database.DataSource.ExecAsync("GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + Reader);
        await database.DataSource.ExecAsync("INSERT INTO rs_copy VALUES ('t1', '2026-11-20', 'of t1'), ('t2', '2026-11-21', 'of t2')");
        Assert.Equal(["of t1"], await ReadAsync("rs_copy_p2026_11", "t1"));
        Assert.Equal(["stray of t2"], await ReadAsync("rs_copy_p2026_10", "t2"));
        Assert.Empty(await ReadAsync("rs_copy_p2026_11", "t3"));
    }

    [Fact]
    public async Task Archiving_a_partition_that_row_level_security_filters_fails_and_keeps_every_row()
    {
        // Maintenance connects as the table's owner, a NOSUPERUSER NOBYPASSRLS role under FORCE ROW LEVEL SECURITY (the
        // recommended application role). Reading the partition through its policies would export, verify and then drop
        // only the rows that role may see with no tenant set: none.
        await RolesAsync();
        await database.DataSource.ExecAsync(
            "CREATE TABLE rs_arch (tenant_id text NOT NULL, created_at timestamptz NOT NULL, body text NOT NULL) PARTITION BY RANGE (created_at);"
            + $"ALTER TABLE rs_arch OWNER TO {Owner};"
            + "ALTER TABLE rs_arch ENABLE ROW LEVEL SECURITY; ALTER TABLE rs_arch FORCE ROW LEVEL SECURITY;"
            + "CREATE POLICY tenant ON rs_arch USING (tenant_id = current_setting('app.tenant_id', true))");
        var time = new FakeTimeProvider(TestHost.Monday);
        var owner = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Username = Owner }.ToString();
        var blob = await TcpServer.BlobAsync();
        using var host = TestHost.Build(owner, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.BlobConnectionString = blob;
            o.ArchiveContainer = "rs-" + Guid.NewGuid().ToString("N");
            o.Tables.Add(new PartitionedTableOptions { Name = "rs_arch", Column = "created_at", Premake = 2, Retention = 2, Archive = true });
        }, time, schema: "so_rs_arch");
        await host.MigratedAsync();
        var maintenance = host.Services.GetRequiredService<IPartitionMaintenance>();
        await maintenance.RunMaintenanceAsync();
        await database.DataSource.ExecAsync(
            "INSERT INTO rs_arch SELECT 't' || (g % 3), timestamptz '2026-09-01' + g * interval '1 hour', 'row ' || g FROM generate_series(1, 50) g");
        time.Advance(TimeSpan.FromDays(40)); // 2027-01-02: 2026_09 and 2026_10 are past retention

        // The archive step fails (42501: the export reads with row_security off, which the policies refuse to this role)
        // and is listed; nothing is dropped.
        var result = await maintenance.RunMaintenanceAsync();
        var archives = result.Failures.Where(f => f.Action?.Kind == PartitionActionKind.Archive).ToList();
        Assert.Equal(2, archives.Count); // 2026_09 and 2026_10
        Assert.All(archives, f => Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, Assert.IsType<PostgresException>(f.Error).SqlState));
        Assert.Equal(50L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM rs_arch_p2026_09"));
    }
    [Fact]
    public async Task Rows_of_a_default_partition_that_row_level_security_hides_fail_the_run_instead_of_staying_unseen()
    {
        // The default partition has its own FORCE ROW LEVEL SECURITY and policy (ScaleOps.Rls gives every partition of a
        // declared table its policies), and maintenance connects as the owner with no tenant set: through the policy the
        // default looks empty. The run must not report success while a closed period's rows (October's, the table
        // already has November's partition) stay in the default.
        await RolesAsync();
        await database.DataSource.ExecAsync(
            "CREATE TABLE rs_def (tenant_id text NOT NULL, created_at timestamptz NOT NULL, body text NOT NULL) PARTITION BY RANGE (created_at);"
            + "CREATE TABLE rs_def_default PARTITION OF rs_def DEFAULT;"
            + "CREATE TABLE rs_def_p2026_11 PARTITION OF rs_def FOR VALUES FROM ('2026-11-01 00:00+00') TO ('2026-12-01 00:00+00');"
            + "INSERT INTO rs_def SELECT 't' || (g % 3), timestamptz '2026-10-01' + g * interval '1 hour', 'row ' || g FROM generate_series(1, 30) g;"
            + $"ALTER TABLE rs_def OWNER TO {Owner}; ALTER TABLE rs_def_default OWNER TO {Owner};"
            + "ALTER TABLE rs_def ENABLE ROW LEVEL SECURITY; ALTER TABLE rs_def FORCE ROW LEVEL SECURITY;"
            + "ALTER TABLE rs_def_default ENABLE ROW LEVEL SECURITY; ALTER TABLE rs_def_default FORCE ROW LEVEL SECURITY;"
            + "CREATE POLICY tenant ON rs_def USING (tenant_id = current_setting('app.tenant_id', true));"
            + "CREATE POLICY tenant ON rs_def_default USING (tenant_id = current_setting('app.tenant_id', true))");
        var owner = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Username = Owner }.ToString();
        using var host = TestHost.Build(owner, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.Tables.Add(new PartitionedTableOptions { Name = "rs_def", Column = "created_at", Premake = 1 });
        }, new FakeTimeProvider(TestHost.Monday), schema: "so_rs_def", services: s => s.AddFakeLogging());
        using var failures = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(
            host.Services.GetRequiredService<ScaleOps.Diagnostics.ScaleOpsMetrics>().Meter, "scaleops.partitioning.maintenance.failures");

        var result = await host.Services.GetRequiredService<IPartitionMaintenance>().RunMaintenanceAsync();
        var failure = Assert.Single(result.Failures);
        Assert.Null(failure.Action);
        // Counted as the table's failure (kind "table") and logged as 4009, naming the table, with the 42501.
        Assert.Equal("{step}", failures.Instrument!.Unit);
        var counted = Assert.Single(failures.GetMeasurementSnapshot());
        Assert.Equal((1L, "table"), (counted.Value, (string?)counted.Tags["kind"]));
        var logged = Assert.Single(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 4009);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, logged.Level);
        Assert.Equal("Partition maintenance could not check or plan \"public\".\"rs_def\"; the run goes on with the other tables", logged.Message);
        Assert.Same(failure.Error, logged.Exception);
        Assert.Equal("42501", Assert.IsType<PostgresException>(failure.Error.InnerException ?? failure.Error).SqlState);
        Assert.Contains("rs_def_default", failure.Error.Message, StringComparison.Ordinal);
        // The partition ahead is still made; the hidden rows stay where they were.
        // (The default's policy, the parent's under its name, is marked as the parent's copy: SyncRowSecurity.)
        Assert.Equal(["Create rs_def_p2026_12", "SyncRowSecurity rs_def_default"], result.Actions.Select(a => $"{a.Kind} {a.Partition}"));
        Assert.Equal(30L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM rs_def_default"));
    }
}
