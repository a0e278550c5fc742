using System;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Rls.Safety;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Safety;

/// <summary>
/// Every tenant statement starts with <c>CALL scaleops.rls_set_context(...)</c>: without the procedure (migrations not
/// run on a database, a shard added with ApplyMigrationsOnStart = false) or without EXECUTE on it, every tenant
/// statement fails. The start-up checks say so, naming the database and the fix, instead of letting the first request
/// find out.
/// </summary>
public class ContextProcedureCheckTests(ContextProcedureCheckTests.SchemaWithoutProcedure database)
    : IClassFixture<ContextProcedureCheckTests.SchemaWithoutProcedure>, IAsyncLifetime
{
    private readonly string _shardDatabase = $"rls_noproc_{Environment.ProcessId}_{Guid.NewGuid():N}"[..40];

    /// <summary>The RLS test schema with its policies, but not the context procedure.</summary>
    public sealed class SchemaWithoutProcedure : PostgresDatabase
    {
        protected override async Task InitializeTemplateAsync(string templateDatabase)
        {
            await RlsDatabase.EnsureRolesAsync();
            await PostgresServer.ExecuteAsync(RlsDatabase.SchemaSql, templateDatabase);
            await ApplyPoliciesAsync(PostgresServer.ConnectionStringFor(templateDatabase, pooling: false));
        }
    }

    private static async Task ApplyPoliciesAsync(string ownerConnectionString)
    {
        await using var owner = NpgsqlDataSource.Create(ownerConnectionString);
        var options = new RlsOptions();
        foreach (var table in RlsDatabase.Tables())
        {
            options.Tables.Add(table);
        }

        await new RlsPolicyManager(owner, Options.Create(options), NullLogger<RlsPolicyManager>.Instance).ApplyAsOwnerAsync(owner);
    }

    // A shard (the second PostgreSQL) with the schema and its policies but no context procedure.
    public async Task InitializeAsync()
    {
        await SecondPostgresServer.ExecuteAsync(RlsDatabase.RoleSql(RlsDatabase.AppRole, "NOBYPASSRLS"));
        await SecondPostgresServer.ExecuteAsync(RlsDatabase.RoleSql(RlsDatabase.BypassRole, "BYPASSRLS"));
        await SecondPostgresServer.ExecuteAsync($"CREATE DATABASE \"{_shardDatabase}\"");
        await SecondPostgresServer.ExecuteAsync(
            RlsDatabase.SchemaSql.Replace("generate_series(1, 20)", "generate_series(1, 0)", StringComparison.Ordinal), _shardDatabase);
        await ApplyPoliciesAsync(new NpgsqlConnectionStringBuilder(SecondPostgresServer.ConnectionStringFor(_shardDatabase)) { Pooling = false }.ToString());
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await SecondPostgresServer.ExecuteAsync($"DROP DATABASE IF EXISTS \"{_shardDatabase}\" WITH (FORCE)");
    }

    private static string App(string databaseName) =>
        new NpgsqlConnectionStringBuilder(PostgresServer.ConnectionStringFor(databaseName)) { Username = RlsDatabase.AppRole }.ToString();

    private static IHost BuildHost(string connectionString, string? shard = null) =>
        RlsHosts.Checked(connectionString, o =>
        {
            if (shard is not null)
            {
                o.Shards["whales"] = shard;
            }
        });

    private static async Task<string> RefusedAsync(IHost host)
    {
        var ex = await Assert.ThrowsAsync<RlsSafetyException>(() => host.StartAsync());
        return Assert.Single(ex.Problems);
    }

    [Fact]
    public async Task A_database_without_the_context_procedure_or_EXECUTE_on_it_refuses_the_start_naming_the_database_and_the_fix()
    {
        // The other test of the class installs the procedure in the shared database.
        await PostgresServer.ExecuteAsync("DROP PROCEDURE IF EXISTS scaleops.rls_set_context(text, text, text[])", database.Name);
        using (var host = BuildHost(App(database.Name)))
        {
            var problem = await RefusedAsync(host);
            Assert.Contains($"the tenant context procedure \"scaleops\".rls_set_context(text, text, text[]) does not exist in database {database.Name}",
                problem, StringComparison.Ordinal);
            Assert.Contains("IScaleOpsMigrator", problem, StringComparison.Ordinal);
        }

        await PostgresServer.ExecuteAsync(RlsDatabase.ContextProcedureSql, database.Name);
        await PostgresServer.ExecuteAsync("REVOKE EXECUTE ON PROCEDURE scaleops.rls_set_context(text, text, text[]) FROM PUBLIC", database.Name);
        using (var host = BuildHost(App(database.Name)))
        {
            var problem = await RefusedAsync(host);
            Assert.Contains($"the application role {RlsDatabase.AppRole} may not call the tenant context procedure", problem, StringComparison.Ordinal);
            Assert.Contains($"in database {database.Name}", problem, StringComparison.Ordinal);
        }

        await PostgresServer.ExecuteAsync("GRANT EXECUTE ON PROCEDURE scaleops.rls_set_context(text, text, text[]) TO PUBLIC", database.Name);
        using (var host = BuildHost(App(database.Name)))
        {
            await host.StartAsync();
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task A_shard_without_the_context_procedure_refuses_the_start_naming_the_shard_s_database()
    {
        await PostgresServer.ExecuteAsync(RlsDatabase.ContextProcedureSql, database.Name);
        var shard = new NpgsqlConnectionStringBuilder(SecondPostgresServer.ConnectionStringFor(_shardDatabase)) { Username = RlsDatabase.AppRole }.ToString();
        using var host = BuildHost(App(database.Name), shard);
        var problem = await RefusedAsync(host);
        Assert.Contains($"does not exist in database {_shardDatabase}", problem, StringComparison.Ordinal);

        // IScaleOpsMigrator migrates its own host's database only: the advice must say which host migrates a shard.
        Assert.Contains("IScaleOpsMigrator.MigrateAsync in a migration step whose ScaleOps:ConnectionString is this database's", problem,
            StringComparison.Ordinal);
    }
}
