using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Migrations;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests.Migrations;

/// <summary>
/// An existing service's application role is usually not the owner of the database: with ScaleOps:ApplyMigrationsOnStart
/// (on by default) the first start runs the migrations as that role. What it is told when the role may not.
/// </summary>
public class MigrationPrivilegeTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    // One role per test: the second grants its role CREATE on the (shared) database.
    private const string AppRole = "scaleops_core_migration_app";
    private const string ReaderRole = "scaleops_core_migration_reader";

    private async Task<ServiceProvider> ProviderAsAsync(string role, string schema)
    {
        await PostgresServer.ExecuteAsync(
            $"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE {role} LOGIN NOSUPERUSER; END IF; END $$");
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o =>
        {
            o.ConnectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Username = role }.ToString();
            o.Schema = schema;
        }).AddMigrations("alpha", typeof(MigrationPrivilegeTests).Assembly, "TestMigrations.Alpha/");
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task A_role_that_may_not_create_the_schema_gets_a_MigrationException_that_names_it_and_the_two_fixes()
    {
        await using var provider = await ProviderAsAsync(AppRole, "m_priv_db");

        var error = await Assert.ThrowsAsync<MigrationException>(() => provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync());

        Assert.Contains($"role {AppRole}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"database {database.Name}", error.Message, StringComparison.Ordinal);
        Assert.Contains("permission denied for database", error.Message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:ApplyMigrationsOnStart = false", error.Message, StringComparison.Ordinal);
        Assert.Contains($"GRANT CREATE ON DATABASE \"{database.Name}\" TO \"{AppRole}\"", error.Message, StringComparison.Ordinal);
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, Assert.IsType<PostgresException>(error.InnerException).SqlState);
    }

    [Fact]
    public async Task A_role_that_may_not_read_the_migration_table_of_a_schema_the_owner_migrated_gets_the_same_advice()
    {
        // The owner (here the superuser) ran the migrations; the application role may use the schema and create in the
        // database, but not read the owner's migration table.
        await using (var owner = new ServiceCollection().AddLogging().AddScaleOps(o =>
                     {
                         o.ConnectionString = database.ConnectionString;
                         o.Schema = "m_priv_read";
                     }).AddMigrations("alpha", typeof(MigrationPrivilegeTests).Assembly, "TestMigrations.Alpha/").Services.BuildServiceProvider())
        {
            await owner.GetRequiredService<IScaleOpsMigrator>().MigrateAsync();
        }

        await using var provider = await ProviderAsAsync(ReaderRole, "m_priv_read");
        await PostgresServer.ExecuteAsync(
            $"GRANT CREATE ON DATABASE \"{database.Name}\" TO {ReaderRole}; GRANT USAGE, CREATE ON SCHEMA m_priv_read TO {ReaderRole}", database.Name);

        var error = await Assert.ThrowsAsync<MigrationException>(() => provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync());

        Assert.Contains($"role {ReaderRole}", error.Message, StringComparison.Ordinal);
        Assert.Contains("permission denied for table schema_migrations", error.Message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:ApplyMigrationsOnStart = false", error.Message, StringComparison.Ordinal);
    }
}
