using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.Partitioning.Migration;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Migration;

public partial class TableMigratorTests
{
    private const string PartOwner = "so_mig_pa \"Owner\"";
    private const string PartReader = "so_mig_pa reader";
    private const string PartColumns = "so_mig_pa columns";

    /// <summary>Runs <paramref name="sql"/> as <paramref name="role"/> (SET LOCAL ROLE) in a transaction of tenant <paramref name="tenant"/>.</summary>
    private async Task<long> AsRoleAsync(string role, string tenant, string sql)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand($"SET LOCAL ROLE {SqlIdentifier.Quote(role)}", connection, transaction);
        await command.ExecuteNonQueryAsync();
        command.CommandText = "SELECT set_config('app.tenant_id', $1, true)";
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        await command.ExecuteNonQueryAsync();
        command.Parameters.Clear();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// PostgreSQL checks a statement through the parent against the parent's grants only, and one that names a
    /// partition against the partition's own (and its own row-level security). The partitions the conversion made (ahead
    /// of the cut, and those split out of the old table) and those maintenance made later had the migrating role's owner
    /// and no grant: a role granted on the old table was refused ("permission denied for table ..._p2027_01") when it
    /// queried a partition by name, as the README recommends, and the owner did not own them. They now get the old
    /// table's owner, grants, column grants and row-level security.
    /// </summary>
    [Fact]
    public async Task Partitions_made_by_the_conversion_and_by_maintenance_carry_the_old_tables_owner_grants_and_row_level_security()
    {
        await CreateRolesAsync(PartOwner, PartReader, PartColumns);
        var (host, _, time) = await SetUpAsync("mig_pa");
        using var _ = host;
        await database.DataSource.ExecAsync(
            "ALTER TABLE mig_pa ENABLE ROW LEVEL SECURITY; ALTER TABLE mig_pa FORCE ROW LEVEL SECURITY;"
            + "CREATE POLICY \"Tenant's rows\" ON mig_pa USING (tenant_id = current_setting('app.tenant_id', true));"
            + $"GRANT SELECT, INSERT ON mig_pa TO {SqlIdentifier.Quote(PartReader)};"
            + $"GRANT SELECT (id, created_at) ON mig_pa TO {SqlIdentifier.Quote(PartColumns)};"
            + $"ALTER TABLE mig_pa OWNER TO {SqlIdentifier.Quote(PartOwner)}");

        Assert.True((await host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_pa", "mig_pa_new")).Swapped);
        await database.DataSource.ExecAsync("INSERT INTO mig_pa VALUES (9001, '2027-01-10', 't3', 'x'), (9002, '2027-01-11', 't4', 'y')");
        await AssertCarriedAsync("mig_pa_p2027_01"); // made ahead of the cut, before the swap
        await AssertCarriedAsync("mig_pa_p2026_05"); // split out of the old table

        time.Advance(TimeSpan.FromDays(40)); // January: maintenance makes February and March, and moves November and December
        var result = await host.Services.GetRequiredService<IPartitionMaintenance>().RunMaintenanceAsync();
        Assert.Empty(result.Failures);
        await AssertCarriedAsync("mig_pa_p2027_03");
        await AssertCarriedAsync("mig_pa_p2026_11");
    }

    private async Task AssertCarriedAsync(string partition)
    {
        // As the reader, by the partition's name: its own tenant's rows only (the superuser's count ignores row security).
        var own = await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM ONLY {partition} WHERE tenant_id = 't3'");
        Assert.Equal(own, await AsRoleAsync(PartReader, "t3", $"SELECT count(*) FROM {partition}"));
        Assert.Equal(0L, await AsRoleAsync(PartReader, "nobody", $"SELECT count(*) FROM {partition}"));
        Assert.Equal(PartOwner, await database.DataSource.ScalarAsync<string>(
            $"SELECT r.rolname::text FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE c.oid = '{partition}'::regclass"));
        Assert.Equal("t t f f", await database.DataSource.ScalarAsync<string>(
            $"SELECT concat_ws(' ', has_table_privilege($${PartReader}$$, '{partition}', 'INSERT'), "
            + $"has_column_privilege($${PartColumns}$$, '{partition}', 'created_at', 'SELECT'), "
            + $"has_column_privilege($${PartColumns}$$, '{partition}', 'body', 'SELECT'), has_table_privilege($${PartReader}$$, '{partition}', 'UPDATE'))"));
        Assert.Equal("true true 1", await database.DataSource.ScalarAsync<string>(
            $"SELECT relrowsecurity::text || ' ' || relforcerowsecurity::text || ' ' || (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) "
            + $"FROM pg_class c WHERE c.oid = '{partition}'::regclass"));
    }

    /// <summary>
    /// The owner of the old table, running maintenance itself after the conversion, could not drop the partitions past
    /// retention that the conversion had split out (owned by the migrating role: "must be owner of table"). They now
    /// belong to the partitioned table's owner.
    /// </summary>
    [Fact]
    public async Task The_tables_owner_runs_retention_on_the_partitions_the_conversion_made()
    {
        const string owner = "so_mig_pa maintainer";
        await PostgresServer.ExecuteAsync(
            $"DO $$ BEGIN CREATE ROLE {SqlIdentifier.Quote(owner)} LOGIN NOSUPERUSER; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
        var (host, _, time) = await SetUpAsync("mig_pa_ret", o => o.Tables[0].Retention = 2);
        using var _ = host;
        await database.DataSource.ExecAsync(
            $"ALTER TABLE mig_pa_ret OWNER TO {SqlIdentifier.Quote(owner)}; GRANT CREATE ON SCHEMA public TO {SqlIdentifier.Quote(owner)};"
            + $"GRANT CREATE ON DATABASE {SqlIdentifier.Quote(database.Name)} TO {SqlIdentifier.Quote(owner)}");
        Assert.True((await host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_pa_ret", "mig_pa_ret_new")).Swapped);

        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Username = owner }.ConnectionString;
        using var ownHost = TestHost.Build(connectionString, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.Tables.Add(new PartitionedTableOptions { Name = "mig_pa_ret", Column = "created_at", Premake = 2, Retention = 2 });
        }, time, schema: "so_mig_pa_ret");
        var result = await ownHost.Services.GetRequiredService<IPartitionMaintenance>().RunMaintenanceAsync();
        Assert.Empty(result.Failures);
        Assert.Equal(4, result.Actions.Count(a => a.Kind == PartitionActionKind.Drop)); // May to August 2026
        Assert.DoesNotContain(await database.DataSource.PartitionsAsync("public.mig_pa_ret"), p => p.StartsWith("mig_pa_ret_p2026_08 ", StringComparison.Ordinal));
    }
}
