using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Partitioning.Migration;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Migration;

public partial class TableMigratorTests
{
    private const string TenantReader = "so_mig_rls_reader";

    /// <summary>The rows a role subject to row-level security sees through <c>public.{table}</c> as <paramref name="tenant"/>.</summary>
    private async Task<long> VisibleAsync(string table, string tenant)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand($"SET LOCAL ROLE {TenantReader}", connection, transaction);
        await command.ExecuteNonQueryAsync();
        command.CommandText = "SELECT set_config('app.tenant_id', $1, true)";
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        await command.ExecuteNonQueryAsync();
        command.Parameters.Clear();
        command.CommandText = $"SELECT count(*) FROM {table}";
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// The old table's row-level security (ENABLE, FORCE, the tenant policy) stayed on the old table, which became the
    /// default partition; the partitioned table that took its name had none, so every tenant read every tenant's rows
    /// through it after the swap. The partitioned table now gets the old table's settings and, when it has no policy of
    /// its own, its policies, in the swap's transaction.
    /// </summary>
    [Fact]
    public async Task The_old_tables_row_level_security_is_carried_over_to_the_partitioned_table()
    {
        await PostgresServer.ExecuteAsync(
            $"DO $$ BEGIN CREATE ROLE {TenantReader} LOGIN NOSUPERUSER NOBYPASSRLS; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
        var (host, _, _) = await SetUpAsync("mig_rls");
        using var _ = host;
        await database.DataSource.ExecAsync(
            "ALTER TABLE mig_rls ENABLE ROW LEVEL SECURITY; ALTER TABLE mig_rls FORCE ROW LEVEL SECURITY;"
            + "CREATE POLICY \"Tenant's rows\" ON mig_rls USING (tenant_id = current_setting('app.tenant_id', true));"
            + $"GRANT SELECT ON mig_rls, mig_rls_new TO {TenantReader}");
        var before = await VisibleAsync("mig_rls", "t3");
        Assert.InRange(before, 1, 1999);

        Assert.True((await host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_rls", "mig_rls_new")).Swapped);
        Assert.Equal(before, await VisibleAsync("mig_rls", "t3"));
        Assert.Equal(0L, await VisibleAsync("mig_rls", "nobody"));
        Assert.Equal("true true", await database.DataSource.ScalarAsync<string>(
            "SELECT relrowsecurity::text || ' ' || relforcerowsecurity::text FROM pg_class WHERE oid = 'mig_rls'::regclass"));
    }
}
