using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning.Migration;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Migration;

public partial class TableMigratorTests
{
    private const string AppRole = "so_mig \"App\" Role";
    private const string ColumnRole = "so_mig column reader";
    private const string OwnerRole = "so_mig Owner";

    /// <summary>
    /// The old table's grants stayed on it (the default partition): the application role got "permission denied" through
    /// the partitioned table that took its name. It now gets the old table's ACL (with grant option), its column grants,
    /// its owner and its comments, in the swap.
    /// </summary>
    [Fact]
    public async Task The_old_tables_grants_owner_and_comments_are_carried_over()
    {
        foreach (var role in new[] { AppRole, ColumnRole, OwnerRole })
        {
            await PostgresServer.ExecuteAsync(
                $"DO $$ BEGIN CREATE ROLE {SqlIdentifier.Quote(role)} NOSUPERUSER; "
                + "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
        }

        const string name = "Mig \"Grant\" T";
        var table = SqlIdentifier.Quote(name);
        var (host, _) = await SetUpQuotedAsync(name, "so_mig_grant");
        using var _ = host;
        await database.DataSource.ExecAsync(
            $"GRANT SELECT, INSERT ON {table} TO {SqlIdentifier.Quote(AppRole)} WITH GRANT OPTION;"
            + $"GRANT UPDATE ON {table} TO {SqlIdentifier.Quote(AppRole)};"
            + $"GRANT SELECT (id, body) ON {table} TO {SqlIdentifier.Quote(ColumnRole)};"
            + $"ALTER TABLE {table} OWNER TO {SqlIdentifier.Quote(OwnerRole)};"
            + $"COMMENT ON TABLE {table} IS 'The ''events'' table';"
            + $"COMMENT ON COLUMN {table}.body IS 'What happened'");

        Assert.True((await host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", name, name + "_new")).Swapped);

        var literal = "'public." + table.Replace("'", "''", System.StringComparison.Ordinal) + "'";
        Assert.Equal("p", await database.DataSource.ScalarAsync<string>($"SELECT relkind::text FROM pg_class WHERE oid = {literal}::regclass"));
        Assert.Equal(OwnerRole, await database.DataSource.ScalarAsync<string>(
            $"SELECT r.rolname::text FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE c.oid = {literal}::regclass"));
        Assert.Equal("t t t f f", await database.DataSource.ScalarAsync<string>(
            $"SELECT concat_ws(' ', has_table_privilege($${AppRole}$$, {literal}, 'SELECT WITH GRANT OPTION'), "
            + $"has_table_privilege($${AppRole}$$, {literal}, 'INSERT WITH GRANT OPTION'), has_table_privilege($${AppRole}$$, {literal}, 'UPDATE'), "
            + $"has_table_privilege($${AppRole}$$, {literal}, 'UPDATE WITH GRANT OPTION'), has_table_privilege($${AppRole}$$, {literal}, 'DELETE'))"));
        Assert.Equal("t t f", await database.DataSource.ScalarAsync<string>(
            $"SELECT concat_ws(' ', has_column_privilege($${ColumnRole}$$, {literal}, 'id', 'SELECT'), "
            + $"has_column_privilege($${ColumnRole}$$, {literal}, 'body', 'SELECT'), has_column_privilege($${ColumnRole}$$, {literal}, 'created_at', 'SELECT'))"));
        Assert.Equal("The 'events' table|What happened", await database.DataSource.ScalarAsync<string>(
            $"SELECT obj_description({literal}::regclass, 'pg_class') || '|' || col_description({literal}::regclass, 3)"));

        // Through the converted table, as the application role.
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand($"SET LOCAL ROLE {SqlIdentifier.Quote(AppRole)}", connection, transaction);
        await command.ExecuteNonQueryAsync();
        command.CommandText = $"INSERT INTO {table} VALUES (5001, '2027-01-15', 'as the app'); SELECT count(*) FROM {table}";
        Assert.Equal(201L, (long)(await command.ExecuteScalarAsync())!);
    }

    /// <summary>
    /// The partitioned table takes the old table's owner. A migrating role that may not give it that owner (here the
    /// owner may not create in the schema) is refused before anything changes, naming both owners; without the check
    /// the swap failed with a bare "permission denied for schema".
    /// </summary>
    [Fact]
    public async Task An_owner_the_migrating_role_cannot_give_is_refused_up_front()
    {
        const string migrator = "so_mig \"Migrator\"";
        const string owner = "so_mig \"Old\" Owner";
        await PostgresServer.ExecuteAsync(
            $"DO $$ BEGIN CREATE ROLE {SqlIdentifier.Quote(migrator)} LOGIN NOSUPERUSER; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;"
            + $"DO $$ BEGIN CREATE ROLE {SqlIdentifier.Quote(owner)} NOSUPERUSER; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;"
            + $"GRANT {SqlIdentifier.Quote(owner)} TO {SqlIdentifier.Quote(migrator)}");
        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Username = migrator }.ConnectionString;
        var (host, _, _) = await SetUpAsync("mig_owner", connectionString: connectionString);
        using var _ = host;
        await database.DataSource.ExecAsync(
            $"GRANT CREATE ON SCHEMA public TO {SqlIdentifier.Quote(migrator)}; REVOKE CREATE ON SCHEMA public FROM {SqlIdentifier.Quote(owner)};"
            + $"ALTER TABLE mig_owner OWNER TO {SqlIdentifier.Quote(owner)}; ALTER TABLE mig_owner_new OWNER TO {SqlIdentifier.Quote(migrator)}");

        var error = await Assert.ThrowsAsync<System.InvalidOperationException>(
            () => host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_owner", "mig_owner_new"));
        Assert.Contains($"owned by {SqlIdentifier.Quote(owner)}", error.Message, System.StringComparison.Ordinal);
        Assert.Contains($"by {SqlIdentifier.Quote(migrator)}", error.Message, System.StringComparison.Ordinal);
        Assert.Equal("r", await database.DataSource.ScalarAsync<string>("SELECT relkind::text FROM pg_class WHERE oid = 'mig_owner'::regclass"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'mig_owner'::regclass AND contype = 'c'"));
    }
}
